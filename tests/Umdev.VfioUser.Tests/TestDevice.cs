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
/// memory a client may map, with one sparse area. IRQ 0 is INTx, IRQ 4 is REQ.
/// </summary>
public sealed class TestDeviceOps : IVfioDeviceOps, IVfioDmaUnmapListener
{
    private readonly Lock _lock = new();
    private readonly byte[] _bar0 = new byte[8];
    private readonly byte[] _bar2 = new byte[16];
    private readonly byte[] _bar3 = new byte[256];
    private readonly byte[] _config = new byte[256];
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
        Bar4 = new VfioMemoryRegion(4, 8192, [new VfioSparseMmapArea(4096, 4096)], name: "test-bar4");
        Layout = new VfioDeviceLayout
        {
            Flags = VfioDeviceFlags.Pci | VfioDeviceFlags.Reset,
            Regions =
            [
                Bytes(0, _bar0),
                new VfioEmulatedRegion(2, 16, (o, d) => Copy(_bar2, o, d), WriteEngine),
                Bytes(3, _bar3),
                Bar4,
                Bytes(VfioPci.ConfigRegionIndex, _config),
            ],
            Interrupts = new VfioInterrupts(new VfioInterruptSpec(Intx: true, MsiVectors: 0, Req: true)),
        };
    }

    public VfioDevice? Device { get; set; }
    public string Name => "vfio-test";
    public VfioDeviceLayout Layout { get; }
    public VfioMemoryRegion Bar4 { get; }
    public int Opens, Closes;
    public readonly List<(ulong Iova, ulong Length)> Unmaps = [];
    public bool PinHeld { get { lock (_lock) return _pin is not null; } }
    public int ActiveTriggers => Layout.Interrupts.AttachedCount;

    public void OpenDevice() { lock (_lock) Opens++; }

    public void CloseDevice() { lock (_lock) Closes++; }

    private VfioEmulatedRegion Bytes(uint index, byte[] bytes) =>
        new(index, (ulong)bytes.Length, (o, d) => Copy(bytes, o, d), (o, d) => { lock (_lock) d.CopyTo(bytes.AsSpan((int)o)); });

    private void Copy(byte[] bytes, ulong offset, Span<byte> data)
    {
        lock (_lock) bytes.AsSpan((int)offset, data.Length).CopyTo(data);
    }

    private void WriteEngine(ulong offset, ReadOnlySpan<byte> data)
    {
        lock (_lock) data.CopyTo(_bar2.AsSpan((int)offset));
        if (offset <= 12 && offset + (ulong)data.Length > 12) RunDma(_bar2[12]);
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

    /// <summary>Pulses INTx (raised, then lowered: nothing re-asserts it at unmask).</summary>
    public void RaiseIntx()
    {
        Layout.Interrupts.Raise();
        Layout.Interrupts.Lower();
    }

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
}

public sealed class TestDriver : MdevDriver
{
    public readonly Dictionary<Guid, TestDeviceOps> Ops = [];
    public override string Name => "vfio_test";

    public override void Probe(MdevDevice mdev)
    {
        var ops = new TestDeviceOps();
        mdev.DriverData = ops.Device = new VfioDevice(mdev.Name, ops);
        lock (Ops) Ops[mdev.Uuid] = ops;
    }

    public override void Remove(MdevDevice mdev)
    {
        (mdev.DriverData as VfioDevice)?.Unregister();
        mdev.DriverData = null;
    }

    public override int GetAvailableInstances(MdevType type) => 100;
}
