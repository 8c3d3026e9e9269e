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
        if (ops is IVfioMigrationDriver migrationDriver)
        {
            DirtyLog = new VfioDmaDirtyLog();
            Migration = new VfioMigration(migrationDriver, DirtyLog);
        }
    }

    public MdevDevice Mdev { get; }
    public IVfioDeviceOps Ops { get; }

    /// <summary>Migration v2 state of the device; null when its driver does not implement <see cref="IVfioMigrationDriver"/>.</summary>
    public VfioMigration? Migration { get; }

    /// <summary>The log DMA_LOGGING_* keeps of the device's writes into client memory; null without migration.</summary>
    public VfioDmaDirtyLog? DirtyLog { get; }

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
        FromMdev(mdev)?.Migration?.Shutdown();
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

    private VfioDmaTable? _dma;

    /// <summary>The DMA mappings of the client currently attached (a vfio-user connection), if any.</summary>
    public VfioDmaTable? Dma => Volatile.Read(ref _dma);

    /// <summary>
    /// Gives the device a fresh DMA table for a new client (the driver's <see cref="IVfioDmaUnmapListener"/>,
    /// if its ops implement it, hears about unmaps). EBUSY if another client's table is attached.
    /// </summary>
    public VfioDmaTable AttachDma(int maxMappings = 65535)
    {
        var table = new VfioDmaTable(Ops as IVfioDmaUnmapListener, maxMappings) { DirtyLog = DirtyLog };
        if (Interlocked.CompareExchange(ref _dma, table, null) is not null)
            ThrowHelper.Throw(Errno.EBUSY, "a DMA table is already attached");
        return table;
    }

    /// <summary>Drops every mapping of <paramref name="table"/> (driver told first) and detaches it.</summary>
    public void DetachDma(VfioDmaTable table)
    {
        Interlocked.CompareExchange(ref _dma, null, table);
        table.UnmapAll();
    }

    private VfioDmaTable RequireDma() =>
        Dma ?? ThrowHelper.Throw<VfioDmaTable>(Errno.EINVAL, "no client DMA mappings (device not attached)");

    /// <summary><c>vfio_pin_pages</c>: see <see cref="VfioDmaTable.Pin"/>.</summary>
    public VfioDmaPin PinPages(ulong iova, int length, VfioDmaDirection direction) => RequireDma().Pin(iova, length, direction);

    /// <summary><c>vfio_dma_rw</c> with write = false.</summary>
    public void DmaRead(ulong iova, Span<byte> destination) => RequireDma().Read(iova, destination);

    /// <summary><c>vfio_dma_rw</c> with write = true.</summary>
    public void DmaWrite(ulong iova, ReadOnlySpan<byte> source) => RequireDma().Write(iova, source);

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
