namespace Umdev.Vfio;

/// <summary>
/// A device as its user (a VMM, the guest driver, the tests) sees it, whatever carries the calls:
/// in process (<see cref="VfioDeviceFile"/>) or over a vfio-user socket. Errors are
/// <see cref="Interop.ErrnoException"/> with the device's errno.
/// </summary>
public interface IVfioClientDevice : IDisposable
{
    /// <summary>VFIO_DEVICE_GET_INFO: flags and how many regions and IRQ indexes the device has.</summary>
    VfioDeviceInfo GetInfo(uint argsz = 24);
    /// <summary>VFIO_DEVICE_GET_REGION_INFO of region <paramref name="index"/> (size, flags, offset, capabilities); EINVAL for an index the device lacks.</summary>
    VfioRegionInfo GetRegionInfo(uint index, uint argsz = VfioRegionInfo.MinArgsz);
    /// <summary>VFIO_DEVICE_GET_IRQ_INFO of IRQ index <paramref name="index"/>; EINVAL for an index the device lacks.</summary>
    VfioIrqInfo GetIrqInfo(uint index, uint argsz = VfioIrqInfo.MinArgsz);
    /// <summary>VFIO_DEVICE_SET_IRQS: attach or detach eventfds, mask, unmask or trigger.</summary>
    void SetIrqs(in VfioIrqSet irqSet);
    /// <summary>Reads <paramref name="buffer"/>.Length bytes of region <paramref name="index"/> at in-region <paramref name="offset"/>; returns the count read. EINVAL outside the region.</summary>
    int ReadRegion(uint index, ulong offset, Span<byte> buffer);
    /// <summary>Writes <paramref name="buffer"/> into region <paramref name="index"/> at in-region <paramref name="offset"/>; returns the count written. EINVAL outside the region.</summary>
    int WriteRegion(uint index, ulong offset, ReadOnlySpan<byte> buffer);
    /// <summary>VFIO_DEVICE_RESET.</summary>
    void Reset();
}
