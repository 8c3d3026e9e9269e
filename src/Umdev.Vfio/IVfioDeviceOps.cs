namespace Umdev.Vfio;

/// <summary>
/// What a vendor driver implements for each of its devices (the kernel's <c>vfio_device_ops</c>, minus
/// what the model does once for every driver). The driver declares its regions and interrupts in
/// <see cref="Layout"/>; the model answers the info queries and SET_IRQS, checks every access against
/// the declared regions and runs only the region's handler. Failures are
/// <see cref="Interop.ErrnoException"/> carrying the errno the ioctl/read/write would return.
/// </summary>
public interface IVfioDeviceOps
{
    /// <summary>The ops name (mtty: <c>vfio-mtty</c>).</summary>
    string Name { get; }

    /// <summary>The device's regions and interrupts; read once, when the device is registered.</summary>
    VfioDeviceLayout Layout { get; }

    /// <summary>First open of the device (<c>open_device</c>).</summary>
    void OpenDevice() { }

    /// <summary>Last close of the device (<c>close_device</c>), after the model released its interrupts.</summary>
    void CloseDevice() { }

    /// <summary>VFIO_DEVICE_RESET.</summary>
    void Reset() { }
}
