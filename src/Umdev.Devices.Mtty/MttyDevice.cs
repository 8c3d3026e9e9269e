using Umdev.Core;
using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.Devices.Mtty;

/// <summary>
/// One mtty card (the kernel's <c>mdev_state</c> with <c>vfio-mtty</c> ops): PCI config space, one or
/// two UARTs and their interrupt line. One lock serialises region accesses and SET_IRQS, as the
/// sample's <c>ops_lock</c>. State lives from creation to removal; close only drops the eventfds.
/// </summary>
internal sealed partial class MttyDevice : IVfioDeviceOps
{
    /// <summary>The sample always keeps state for two ports, whatever the type.</summary>
    private const int PortSlots = 2;

    private readonly Lock _lock = new();
    private readonly MttyConfigSpace _config;
    private readonly MttyUartPort[] _ports = [new(), new()];
    private readonly MttyInterrupts _irqs;

    // The sample caches the GET_INFO reply and uses its num_irqs for IRQ ioctls: 0 until GET_INFO.
    private uint _cachedNumIrqs;

    // Set by removal. The kernel waits for users to close before removing; here a user still holding
    // the device gets ENODEV, so nothing can re-attach an eventfd to a removed card.
    private bool _removed;

    public MttyDevice(MdevDevice mdev, int numPorts)
    {
        Mdev = mdev;
        NumPorts = numPorts;
        _config = new MttyConfigSpace(numPorts);
        _irqs = new MttyInterrupts(AnyPortPending);
    }

    public MdevDevice Mdev { get; }

    public int NumPorts { get; }

    public string Name => "vfio-mtty";

    public void OpenDevice() { }

    public void CloseDevice()
    {
        lock (_lock) _irqs.DisableAll();
    }

    /// <summary>Releases everything the device holds (removal); later accesses fail with ENODEV.</summary>
    public void Destroy()
    {
        lock (_lock)
        {
            _removed = true;
            _irqs.DisableAll();
        }
    }

    public VfioDeviceInfo GetDeviceInfo(uint argsz)
    {
        if (argsz < VfioDeviceInfo.MinArgsz) ThrowHelper.Throw(Errno.EINVAL, "argsz below 16");
        var info = new VfioDeviceInfo(VfioDeviceFlags.Pci, VfioPci.NumRegions, VfioPci.NumIrqs);
        lock (_lock) _cachedNumIrqs = info.NumIrqs;
        return info;
    }

    public VfioRegionInfo GetRegionInfo(uint index, uint argsz)
    {
        if (argsz < VfioRegionInfo.MinArgsz) ThrowHelper.Throw(Errno.EINVAL, "argsz below 32");
        if (index >= VfioPci.NumRegions) ThrowHelper.Throw(Errno.EINVAL, $"no region {index}");
        ulong size = index switch
        {
            VfioPci.ConfigRegionIndex => MttyConfigSpace.Size,
            0 => MttyConfigSpace.BarSize,
            1 when NumPorts == 2 => MttyConfigSpace.BarSize,
            _ => 0,
        };
        // Read|write even for empty regions, as the sample reports them.
        return new VfioRegionInfo(index, VfioRegionFlags.Read | VfioRegionFlags.Write, size, VfioPci.IndexToOffset(index));
    }

    public VfioIrqInfo GetIrqInfo(uint index, uint argsz)
    {
        uint numIrqs;
        lock (_lock) numIrqs = _cachedNumIrqs;
        if (argsz < VfioIrqInfo.MinArgsz || index >= numIrqs) ThrowHelper.Throw(Errno.EINVAL, $"no IRQ info for index {index}");
        return index switch
        {
            VfioPci.IntxIrqIndex => new VfioIrqInfo(index, VfioIrqInfoFlags.EventFd | VfioIrqInfoFlags.Maskable | VfioIrqInfoFlags.Automasked, 1),
            VfioPci.MsiIrqIndex => new VfioIrqInfo(index, VfioIrqInfoFlags.EventFd | VfioIrqInfoFlags.NoResize, 1),
            _ => ThrowHelper.Throw<VfioIrqInfo>(Errno.EINVAL, $"IRQ index {index} is not supported"),
        };
    }

    public void SetIrqs(in VfioIrqSet irqSet)
    {
        lock (_lock)
        {
            ThrowIfRemoved();
            irqSet.ValidateAndPrepare(_cachedNumIrqs, VfioPci.NumIrqs);
            _irqs.SetIrqs(irqSet);
        }
    }

    public int Read(Span<byte> buffer, ulong offset)
    {
        uint index = CheckAccess(offset, buffer.Length);
        lock (_lock)
        {
            ThrowIfRemoved();
            foreach (var (at, pos, size) in new RegionAccessPieces(offset, buffer.Length))
            {
                var piece = buffer.Slice(at, size);
                ulong inRegion = pos & VfioPci.OffsetMask;
                if (index == VfioPci.ConfigRegionIndex)
                {
                    _config.Read((int)inRegion, piece);
                    continue;
                }
                // Only the register at the piece's start is read. Fix (mtty.md §13 note 10): the bytes
                // the sample leaves unwritten (uninitialised stack) are 0 here.
                piece.Clear();
                if (inRegion < UartRegisters.Count)
                    _irqs.Raise(_ports[index].Read((uint)inRegion, out piece[0]));
            }
        }
        return buffer.Length;
    }

    public int Write(ReadOnlySpan<byte> buffer, ulong offset)
    {
        uint index = CheckAccess(offset, buffer.Length);
        lock (_lock)
        {
            ThrowIfRemoved();
            foreach (var (at, pos, size) in new RegionAccessPieces(offset, buffer.Length))
            {
                var piece = buffer.Slice(at, size);
                ulong inRegion = pos & VfioPci.OffsetMask;
                if (index == VfioPci.ConfigRegionIndex)
                    _config.Write((int)inRegion, piece);
                else if (inRegion < UartRegisters.Count)
                    _irqs.Raise(_ports[index].Write((uint)inRegion, piece[0])); // first byte only
            }
        }
        return buffer.Length;
    }

    /// <summary>VFIO_DEVICE_RESET: the UART, config space and IRQ setup are kept, as in the sample.</summary>
    public void Reset() { }

    /// <summary>
    /// Checks an access before any piece of it runs and returns its region index. The whole access
    /// must lie in one region.
    /// Fix (mtty.md §13 note 13): the sample indexes its two-port array with regions 2–5 (out of
    /// bounds) and fails 6, 8 and ≥ 9 with EFAULT; all of them are EINVAL here.
    /// Fix (note 11): config accesses are bounds-checked (the sample reads past its 255-byte buffer).
    /// BAR offsets past the 8 registers stay accepted (writes ignored, reads 0), and BAR1 of a
    /// one-port card still reaches port 1's state, as in the sample.
    /// </summary>
    private static uint CheckAccess(ulong offset, int length)
    {
        if (length == 0) return VfioPci.OffsetToIndex(offset);
        ulong last = offset + (ulong)length - 1;
        uint index = VfioPci.OffsetToIndex(offset);
        if (last < offset || VfioPci.OffsetToIndex(last) != index)
            ThrowHelper.Throw(Errno.EINVAL, "access crosses a region boundary");
        if (index == VfioPci.ConfigRegionIndex)
        {
            if ((last & VfioPci.OffsetMask) >= MttyConfigSpace.Size)
                ThrowHelper.Throw(Errno.EINVAL, "config access past the end of config space");
        }
        else if (index >= PortSlots)
        {
            ThrowHelper.Throw(Errno.EINVAL, $"region {index} cannot be accessed");
        }
        return index;
    }

    private void ThrowIfRemoved()
    {
        if (_removed) ThrowHelper.Throw(Errno.ENODEV, $"{Mdev.Name} was removed");
    }

    /// <summary>Whether any port of the card shows an enabled interrupt condition (the INTx level).</summary>
    private bool AnyPortPending()
    {
        for (int i = 0; i < NumPorts; i++)
            if (_ports[i].InterruptPending) return true;
        return false;
    }
}
