namespace Umdev.Vfio;

/// <summary>
/// A device as its user (a VMM, the guest driver, the tests) sees it, whatever carries the calls:
/// in process (<see cref="VfioDeviceFile"/>) or over a vfio-user socket. Errors are
/// <see cref="Interop.ErrnoException"/> with the device's errno.
/// </summary>
public interface IVfioClientDevice : IDisposable
{
    VfioDeviceInfo GetInfo(uint argsz = 24);
    VfioRegionInfo GetRegionInfo(uint index, uint argsz = VfioRegionInfo.MinArgsz);
    VfioIrqInfo GetIrqInfo(uint index, uint argsz = VfioIrqInfo.MinArgsz);
    void SetIrqs(in VfioIrqSet irqSet);
    int ReadRegion(uint index, ulong offset, Span<byte> buffer);
    int WriteRegion(uint index, ulong offset, ReadOnlySpan<byte> buffer);
    void Reset();
}
