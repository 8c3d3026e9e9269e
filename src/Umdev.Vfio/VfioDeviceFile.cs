using Umdev.Interop;
using Umdev.Vfio.Migration;

namespace Umdev.Vfio;

/// <summary>
/// An open device (the analogue of a VFIO device fd): the in-process client API the demo, the tests
/// and the transports use. Disposing it closes the device.
/// </summary>
public sealed class VfioDeviceFile : IVfioClientDevice, IVfioMigrationClient
{
    private VfioDevice? _device;

    internal VfioDeviceFile(VfioDevice device) => _device = device;

    public VfioDevice Device => _device ?? ThrowHelper.Throw<VfioDevice>(Errno.EBADF, "device file closed");

    public VfioDeviceInfo GetInfo(uint argsz = 24) => Device.GetInfo(argsz);

    /// <summary>
    /// The region's info. For a mappable region <see cref="VfioRegionInfo.MmapHandle"/> is a descriptor of
    /// its memory that the caller owns and maps at the info's offset, as a vfio-user client does.
    /// </summary>
    public VfioRegionInfo GetRegionInfo(uint index, uint argsz = VfioRegionInfo.MinArgsz)
    {
        var info = Device.GetRegionInfo(index, argsz);
        return info.MmapHandle is { } memory ? info with { MmapHandle = memory.Duplicate() } : info;
    }

    public VfioIrqInfo GetIrqInfo(uint index, uint argsz = VfioIrqInfo.MinArgsz) => Device.GetIrqInfo(index, argsz);

    public void SetIrqs(in VfioIrqSet irqSet) => Device.SetIrqs(irqSet);

    public int Read(Span<byte> buffer, ulong offset) => Device.Read(buffer, offset);

    public int Write(ReadOnlySpan<byte> buffer, ulong offset) => Device.Write(buffer, offset);

    /// <summary>Reads from a region by index and in-region offset.</summary>
    public int ReadRegion(uint index, ulong offset, Span<byte> buffer) => Read(buffer, VfioPci.IndexToOffset(index) + offset);

    public int WriteRegion(uint index, ulong offset, ReadOnlySpan<byte> buffer) => Write(buffer, VfioPci.IndexToOffset(index) + offset);

    /// <summary>VFIO_DEVICE_QUERY_GFX_PLANE of the primary plane (see <see cref="VfioDevice.QueryGfxPlane"/>).</summary>
    public VfioGfxPlane QueryGfxPlane() => Device.QueryGfxPlane();

    /// <summary>
    /// VFIO_DEVICE_RESET: the driver's reset; a device with migration also ends any session and goes back to
    /// RUNNING through the driver's arcs (see <see cref="VfioMigration.Reset"/>), so it works after a reset
    /// from any state.
    /// </summary>
    public void Reset()
    {
        var device = Device;
        if (device.Migration is { } migration) migration.Reset(device.Ops.Reset);
        else device.Ops.Reset();
    }

    private VfioMigration Migration =>
        Device.Migration ?? ThrowHelper.Throw<VfioMigration>(Errno.ENOTTY, "device has no migration support");

    public VfioMigrationFlags GetMigrationFlags() => Migration.Flags;

    public VfioMigrationState GetDeviceState() => Migration.State;

    public VfioMigrationDataFile? SetDeviceState(VfioMigrationState state)
    {
        var migration = Migration;
        var stream = migration.SetState(state);
        return stream is null ? null : new VfioMigrationDataFile(migration, stream);
    }

    public ulong GetMigrationDataSize() => Migration.StopCopySize;

    public VfioPrecopyInfo GetPrecopyInfo() => Migration.GetPrecopyInfo(Migration.CurrentSavingStream);

    public int ReadMigrationData(Span<byte> buffer) => Migration.CurrentSavingStream.Read(buffer);

    public int WriteMigrationData(ReadOnlySpan<byte> data) => Migration.CurrentResumingStream.Write(data);

    public ulong StartDmaLogging(ulong pageSize, ReadOnlySpan<VfioDmaLoggingRange> ranges) => Migration.StartDmaLogging(pageSize, ranges);

    public void StopDmaLogging() => Migration.StopDmaLogging();

    public void ReportDmaLogging(ulong iova, ulong length, ulong pageSize, Span<byte> bitmap) =>
        Migration.ReportDmaLogging(iova, length, pageSize, bitmap);

    public int DeviceFeature(uint flags, Span<byte> data, out VfioMigrationDataFile? dataFile) =>
        VfioDeviceFeature.Dispatch(this, Device.Migration is not null, flags, data, out dataFile);

    public void Dispose() => Interlocked.Exchange(ref _device, null)?.Release();
}
