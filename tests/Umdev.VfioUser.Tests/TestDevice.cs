using System.Buffers.Binary;
using Umdev.Core;
using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.VfioUser.Tests;

/// <summary>
/// A test-only VFIO PCI device. BAR0 (8 bytes) is a scratch register file that keeps its contents across
/// opens; BAR2 (16 bytes) is a DMA engine: iova u64 @0, length u32 @8, and a write to the command byte @12
/// runs 1 = copy client memory into BAR3, 2 = copy BAR3 into client memory, 3 = pin (kept until unmap),
/// 4 = increment every byte through the pin. BAR3 (256 bytes) is the engine's buffer. BAR4 (8 KiB) is
/// mmap-able through a memfd with one sparse area. IRQ 0 is INTx, IRQ 4 is REQ (both eventfd triggers).
/// </summary>
public sealed class TestDeviceOps : IVfioDeviceOps, IVfioDmaUnmapListener
{
    private readonly Lock _lock = new();
    private readonly byte[] _bar0 = new byte[8];
    private readonly byte[] _bar2 = new byte[16];
    private readonly byte[] _bar3 = new byte[256];
    private readonly byte[] _config = new byte[256];
    private readonly EventFdReference?[] _triggers = new EventFdReference?[5];
    private readonly FileDescriptorHandle _bar4Memory = MemFd.Create("test-bar4", 8192);
    private VfioDmaPin? _pin;

    public TestDeviceOps()
    {
        BinaryPrimitives.WriteUInt16LittleEndian(_config, 0x4348);
        BinaryPrimitives.WriteUInt16LittleEndian(_config.AsSpan(2), 0x3253);
        _config[8] = 0x10;
        _config[9] = 0x02;
        _config[10] = 0x00;
        _config[11] = 0x07;
        _config[0x10] = 0x01;
        _config[0x3d] = 0x01;
    }

    public VfioDevice? Device { get; set; }
    public string Name => "vfio-test";
    public int Opens, Closes;
    public readonly List<(ulong Iova, ulong Length)> Unmaps = [];
    public bool PinHeld { get { lock (_lock) return _pin is not null; } }
    public int ActiveTriggers { get { lock (_lock) return _triggers.Count(t => t is not null); } }

    public void OpenDevice() { lock (_lock) Opens++; }

    public void CloseDevice()
    {
        lock (_lock)
        {
            Closes++;
            for (int i = 0; i < _triggers.Length; i++) { _triggers[i]?.Dispose(); _triggers[i] = null; }
        }
    }

    public VfioDeviceInfo GetDeviceInfo(uint argsz)
    {
        if (argsz < VfioDeviceInfo.MinArgsz) ThrowHelper.Throw(Errno.EINVAL);
        return new VfioDeviceInfo(VfioDeviceFlags.Pci | VfioDeviceFlags.Reset, VfioPci.NumRegions, VfioPci.NumIrqs);
    }

    public VfioRegionInfo GetRegionInfo(uint index, uint argsz)
    {
        if (argsz < VfioRegionInfo.MinArgsz || index >= VfioPci.NumRegions) ThrowHelper.Throw(Errno.EINVAL);
        var rw = VfioRegionFlags.Read | VfioRegionFlags.Write;
        ulong size = index switch { 0 => 8, 2 => 16, 3 => 256, 4 => 8192, 7 => 256, _ => 0 };
        var info = new VfioRegionInfo(index, rw, size, VfioPci.IndexToOffset(index));
        if (index == 4)
            info = info with
            {
                Flags = rw | VfioRegionFlags.Mmap,
                Capabilities = [new VfioSparseMmapCapability([new VfioSparseMmapArea(4096, 4096)])],
                MmapHandle = _bar4Memory,
            };
        return info;
    }

    public VfioIrqInfo GetIrqInfo(uint index, uint argsz)
    {
        if (argsz < VfioIrqInfo.MinArgsz || index is not (0 or 4)) ThrowHelper.Throw(Errno.EINVAL);
        return new VfioIrqInfo(index, VfioIrqInfoFlags.EventFd, 1);
    }

    public void SetIrqs(in VfioIrqSet set)
    {
        set.ValidateAndPrepare(VfioPci.NumIrqs, VfioPci.NumIrqs);
        if (set.Index is not (0 or 4) || set.Action != VfioIrqSetFlags.ActionTrigger) ThrowHelper.Throw(Errno.ENOTTY);
        lock (_lock)
        {
            switch (set.DataType)
            {
                case VfioIrqSetFlags.DataEventFd:
                    if (set.Count != 1 || set.Start != 0) ThrowHelper.Throw(Errno.EINVAL);
                    _triggers[set.Index]?.Dispose();
                    _triggers[set.Index] = set.EventFds[0]?.AddReference();
                    break;
                case VfioIrqSetFlags.DataNone when set.Count == 0:
                    _triggers[set.Index]?.Dispose();
                    _triggers[set.Index] = null;
                    break;
                default:
                    _triggers[set.Index]?.Signal();
                    break;
            }
        }
    }

    public int Read(Span<byte> buffer, ulong offset)
    {
        var region = Region(offset, buffer.Length, out int at);
        lock (_lock) region.AsSpan(at, buffer.Length).CopyTo(buffer);
        return buffer.Length;
    }

    public int Write(ReadOnlySpan<byte> buffer, ulong offset)
    {
        var region = Region(offset, buffer.Length, out int at);
        lock (_lock) buffer.CopyTo(region.AsSpan(at));
        if (region == _bar2 && at <= 12 && at + buffer.Length > 12) RunDma(_bar2[12]);
        return buffer.Length;
    }

    private byte[] Region(ulong offset, int length, out int at)
    {
        uint index = VfioPci.OffsetToIndex(offset);
        ulong inRegion = offset & VfioPci.OffsetMask;
        byte[]? region = index switch { 0 => _bar0, 2 => _bar2, 3 => _bar3, 7 => _config, _ => null };
        if (region is null || inRegion > (ulong)region.Length || (ulong)length > (ulong)region.Length - inRegion)
            ThrowHelper.Throw(Errno.EINVAL, "access outside the region");
        at = (int)inRegion;
        return region;
    }

    private void RunDma(byte command)
    {
        var device = Device!;
        ulong iova = BinaryPrimitives.ReadUInt64LittleEndian(_bar2);
        int length = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(_bar2.AsSpan(8)), (uint)_bar3.Length);
        switch (command)
        {
            case 1: device.DmaRead(iova, _bar3.AsSpan(0, length)); break;
            case 2: device.DmaWrite(iova, _bar3.AsSpan(0, length)); break;
            case 3:
                var pin = device.PinPages(iova, length, VfioDmaDirection.Bidirectional);
                lock (_lock) { _pin?.Dispose(); _pin = pin; }
                break;
            case 4:
                VfioDmaPin held;
                lock (_lock) held = _pin ?? ThrowHelper.Throw<VfioDmaPin>(Errno.EINVAL);
                using (var access = held.Access())
                    foreach (ref byte b in access.Span) b++;
                held.Flush();
                break;
        }
    }

    /// <summary>Raises INTx (tests call it to check eventfd delivery).</summary>
    public void RaiseIntx() { lock (_lock) _triggers[0]?.Signal(); }

    public void DmaUnmap(ulong iova, ulong length)
    {
        lock (_lock)
        {
            Unmaps.Add((iova, length));
            if (_pin is not null && _pin.Iova >= iova && _pin.Iova - iova < length)
            {
                _pin.Dispose();
                _pin = null;
            }
        }
    }

    public void Reset() { }
}

public sealed class TestDriver : MdevDriver
{
    public readonly Dictionary<Guid, TestDeviceOps> Ops = [];
    public override string Name => "vfio_test";

    public override void Probe(MdevDevice mdev)
    {
        var ops = new TestDeviceOps();
        ops.Device = VfioDevice.RegisterEmulatedIommuDevice(mdev, ops);
        lock (Ops) Ops[mdev.Uuid] = ops;
    }

    public override void Remove(MdevDevice mdev) => VfioDevice.Unregister(mdev);

    public override int GetAvailableInstances(MdevType type) => 100;
}
