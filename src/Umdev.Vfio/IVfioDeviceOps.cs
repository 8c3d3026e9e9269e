namespace Umdev.Vfio;

/// <summary>
/// What a vendor driver implements for each of its devices (the kernel's <c>vfio_device_ops</c>).
/// Failures are <see cref="Interop.ErrnoException"/> carrying the errno the ioctl/read/write would
/// return. The VFIO core adds no locking: drivers serialise what they need.
/// </summary>
public interface IVfioDeviceOps
{
    /// <summary>The ops name (mtty: <c>vfio-mtty</c>).</summary>
    string Name { get; }

    /// <summary>First open of the device (<c>open_device</c>).</summary>
    void OpenDevice();

    /// <summary>Last close of the device (<c>close_device</c>).</summary>
    void CloseDevice();

    /// <summary>VFIO_DEVICE_GET_INFO; <paramref name="argsz"/> is the caller's buffer size.</summary>
    VfioDeviceInfo GetDeviceInfo(uint argsz);

    /// <summary>VFIO_DEVICE_GET_REGION_INFO.</summary>
    VfioRegionInfo GetRegionInfo(uint index, uint argsz);

    /// <summary>VFIO_DEVICE_GET_IRQ_INFO.</summary>
    VfioIrqInfo GetIrqInfo(uint index, uint argsz);

    /// <summary>VFIO_DEVICE_SET_IRQS.</summary>
    void SetIrqs(in VfioIrqSet irqSet);

    /// <summary>read() of the device file at <paramref name="offset"/> (region index &lt;&lt; 40 | in-region offset).</summary>
    int Read(Span<byte> buffer, ulong offset);

    /// <summary>write() of the device file.</summary>
    int Write(ReadOnlySpan<byte> buffer, ulong offset);

    /// <summary>VFIO_DEVICE_RESET.</summary>
    void Reset();
}
