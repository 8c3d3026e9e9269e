using Umdev.Interop;

namespace Umdev.Vfio;

/// <summary>
/// An open device (the analogue of a VFIO device fd): the in-process client API the demo, the tests
/// and the transports use. Disposing it closes the device.
/// </summary>
public sealed class VfioDeviceFile : IVfioClientDevice
{
    private VfioDevice? _device;

    internal VfioDeviceFile(VfioDevice device) => _device = device;

    public VfioDevice Device => _device ?? ThrowHelper.Throw<VfioDevice>(Errno.EBADF, "device file closed");

    private IVfioDeviceOps Ops => Device.Ops;

    public VfioDeviceInfo GetInfo(uint argsz = 24) => Ops.GetDeviceInfo(argsz);

    public VfioRegionInfo GetRegionInfo(uint index, uint argsz = VfioRegionInfo.MinArgsz) => Ops.GetRegionInfo(index, argsz);

    public VfioIrqInfo GetIrqInfo(uint index, uint argsz = VfioIrqInfo.MinArgsz) => Ops.GetIrqInfo(index, argsz);

    public void SetIrqs(in VfioIrqSet irqSet) => Ops.SetIrqs(irqSet);

    public int Read(Span<byte> buffer, ulong offset) => Ops.Read(buffer, offset);

    public int Write(ReadOnlySpan<byte> buffer, ulong offset) => Ops.Write(buffer, offset);

    /// <summary>Reads from a region by index and in-region offset.</summary>
    public int ReadRegion(uint index, ulong offset, Span<byte> buffer) => Read(buffer, VfioPci.IndexToOffset(index) + offset);

    public int WriteRegion(uint index, ulong offset, ReadOnlySpan<byte> buffer) => Write(buffer, VfioPci.IndexToOffset(index) + offset);

    public void Reset() => Ops.Reset();

    public void Dispose() => Interlocked.Exchange(ref _device, null)?.Release();
}
