using Umdev.Core;
using Umdev.Interop;
using Umdev.Vfio.Migration;

namespace Umdev.Vfio;

/// <summary>
/// A registered VFIO device (the kernel's <c>struct vfio_device</c>): ties a vendor's ops to its mdev
/// and counts opens, calling <see cref="IVfioDeviceOps.OpenDevice"/> on the first and
/// <see cref="IVfioDeviceOps.CloseDevice"/> on the last.
/// </summary>
public sealed class VfioDevice
{
    private readonly Lock _openLock = new();
    private int _openCount;

    private VfioDevice(MdevDevice mdev, IVfioDeviceOps ops)
    {
        Mdev = mdev;
        Ops = ops;
        if (ops is IVfioMigrationDriver migrationDriver) Migration = new VfioMigration(migrationDriver);
    }

    public MdevDevice Mdev { get; }
    public IVfioDeviceOps Ops { get; }

    /// <summary>Migration v2 state of the device; null when its driver does not implement <see cref="IVfioMigrationDriver"/>.</summary>
    public VfioMigration? Migration { get; }

    public int OpenCount
    {
        get { lock (_openLock) return _openCount; }
    }

    /// <summary>
    /// Registers <paramref name="ops"/> as an emulated-IOMMU VFIO device for <paramref name="mdev"/>
    /// (<c>vfio_register_emulated_iommu_dev</c>); called from the driver's probe.
    /// </summary>
    public static VfioDevice RegisterEmulatedIommuDevice(MdevDevice mdev, IVfioDeviceOps ops)
    {
        var device = new VfioDevice(mdev, ops);
        mdev.DriverData = device;
        return device;
    }

    /// <summary>Unregisters the device (from the driver's remove).</summary>
    public static void Unregister(MdevDevice mdev)
    {
        (mdev.DriverData as VfioDevice)?.Migration?.Shutdown();
        mdev.DriverData = null;
    }

    public static VfioDevice? FromMdev(MdevDevice mdev) => mdev.DriverData as VfioDevice;

    /// <summary>
    /// Opens the device by name (the analogue of <c>VFIO_GROUP_GET_DEVICE_FD</c>); ENODEV if no such
    /// active device is bound to a VFIO driver.
    /// </summary>
    public static VfioDeviceFile Open(MdevCore core, string name)
    {
        var mdev = core.FindDevice(name) ?? ThrowHelper.Throw<MdevDevice>(Errno.ENODEV, $"no device {name}");
        var device = FromMdev(mdev) ?? ThrowHelper.Throw<VfioDevice>(Errno.ENODEV, $"{name} is not a VFIO device");
        return device.Open();
    }

    public VfioDeviceFile Open()
    {
        lock (_openLock)
        {
            if (Mdev.State != MdevDeviceState.Active) ThrowHelper.Throw(Errno.ENODEV, $"{Mdev.Name} is gone");
            if (_openCount == 0) Ops.OpenDevice();
            _openCount++;
        }
        return new VfioDeviceFile(this);
    }

    internal void Release()
    {
        lock (_openLock)
        {
            if (--_openCount == 0)
            {
                Migration?.Close();
                Ops.CloseDevice();
            }
        }
    }
}
