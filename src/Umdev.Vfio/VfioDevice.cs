using Umdev.Interop;
using Umdev.Vfio.Migration;

namespace Umdev.Vfio;

/// <summary>
/// A registered VFIO device (the kernel's <c>struct vfio_device</c>): a vendor's ops under a device name
/// (an mdev driver registers one per mdev and keeps it as the mdev's driver data). It counts opens
/// (calling <see cref="IVfioDeviceOps.OpenDevice"/> on the first and <see cref="IVfioDeviceOps.CloseDevice"/>
/// on the last) and does what every driver needs once: the info queries, region bounds and the freeze
/// policy, SET_IRQS.
/// </summary>
public sealed partial class VfioDevice
{
    private readonly Lock _openLock = new();
    private int _openCount;

    /// <summary>
    /// Registers <paramref name="ops"/> as an emulated-IOMMU VFIO device named <paramref name="name"/>
    /// (<c>vfio_register_emulated_iommu_dev</c>); an mdev driver calls it from its probe.
    /// </summary>
    public VfioDevice(string name, IVfioDeviceOps ops)
    {
        Name = name;
        Ops = ops;
        Layout = ops.Layout;
        var derived = CheckDeclaration(Layout);
        Interrupts = Layout.Interrupts;
        _regions = IndexRegions(Layout, derived);
        if (ops is IVfioMigrationDriver migrationDriver)
        {
            DirtyLog = new VfioDmaDirtyLog();
            Migration = new VfioMigration(migrationDriver, DirtyLog);
        }
    }

    /// <summary>The device's name (an mdev's UUID).</summary>
    public string Name { get; }

    /// <summary>The driver's side of the device.</summary>
    public IVfioDeviceOps Ops { get; }

    /// <summary>The regions and interrupts the driver declared.</summary>
    public VfioDeviceLayout Layout { get; }

    /// <summary>The device's interrupts (the driver raises them; users attach eventfds with SET_IRQS).</summary>
    public VfioInterrupts Interrupts { get; }

    /// <summary>Migration v2 state of the device; null when its driver does not implement <see cref="IVfioMigrationDriver"/>.</summary>
    public VfioMigration? Migration { get; }

    /// <summary>The log DMA_LOGGING_* keeps of the device's writes into client memory; null without migration.</summary>
    public VfioDmaDirtyLog? DirtyLog { get; }

    /// <summary>How many opens are outstanding (in-process files and vfio-user sessions).</summary>
    public int OpenCount
    {
        get { lock (_openLock) return _openCount; }
    }

    /// <summary>
    /// Unregisters the device (from the driver's remove): a user still holding it gets ENODEV from every
    /// access, its eventfds are released and so is the memory of its regions.
    /// </summary>
    public void Unregister()
    {
        lock (_openLock) _unregistered = true;
        Migration?.Shutdown();
        Interrupts.DisableAll(forever: true);
        // Memory stays mapped while an access holds it (VfioMemoryRegion references its mapping).
        foreach (var region in Layout.Regions) region.Release();
    }

    /// <summary>Opens the device (the analogue of <c>VFIO_GROUP_GET_DEVICE_FD</c>); ENODEV once it is unregistered.</summary>
    public VfioDeviceFile Open()
    {
        lock (_openLock)
        {
            if (_unregistered) ThrowHelper.Throw(Errno.ENODEV, $"{Name} is gone");
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
                Interrupts.DisableAll();
                Ops.CloseDevice();
            }
        }
    }
}
