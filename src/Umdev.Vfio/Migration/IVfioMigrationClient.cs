namespace Umdev.Vfio.Migration;

/// <summary>
/// Migration v2 as a device's user sees it, whatever carries the calls (in process through
/// <see cref="VfioDeviceFile"/>, or a vfio-user transport). Errors are
/// <see cref="Interop.ErrnoException"/> with the kernel's errno; a device without migration gives ENOTTY.
/// </summary>
public interface IVfioMigrationClient
{
    /// <summary>Feature MIGRATION (GET).</summary>
    VfioMigrationFlags GetMigrationFlags();

    /// <summary>Feature MIG_DEVICE_STATE (GET).</summary>
    VfioMigrationState GetDeviceState();

    /// <summary>
    /// Feature MIG_DEVICE_STATE (SET): the whole transition. Returns the data session the last arc opened
    /// (the kernel's data_fd), or null.
    /// </summary>
    VfioMigrationDataFile? SetDeviceState(VfioMigrationState state);

    /// <summary>Feature MIG_DATA_SIZE (GET): bytes of the STOP_COPY stream.</summary>
    ulong GetMigrationDataSize();

    /// <summary>VFIO_MIG_GET_PRECOPY_INFO on the current saving session.</summary>
    VfioPrecopyInfo GetPrecopyInfo();

    /// <summary>Reads the current saving session (vfio-user MIG_DATA_READ); EINVAL outside the saving states.</summary>
    int ReadMigrationData(Span<byte> buffer);

    /// <summary>Writes the current resuming session (vfio-user MIG_DATA_WRITE); EINVAL outside RESUMING.</summary>
    int WriteMigrationData(ReadOnlySpan<byte> data);

    /// <summary>Feature DMA_LOGGING_START; returns the page size used.</summary>
    ulong StartDmaLogging(ulong pageSize, ReadOnlySpan<VfioDmaLoggingRange> ranges);

    /// <summary>Feature DMA_LOGGING_STOP.</summary>
    void StopDmaLogging();

    /// <summary>Feature DMA_LOGGING_REPORT: sets the bits of dirty pages in <paramref name="bitmap"/>.</summary>
    void ReportDmaLogging(ulong iova, ulong length, ulong pageSize, Span<byte> bitmap);

    /// <summary>
    /// VFIO_DEVICE_FEATURE in its binary form: <paramref name="flags"/> as in <c>vfio_device_feature</c>,
    /// <paramref name="data"/> the payload after the 8-byte header (argsz − 8 bytes), updated in place.
    /// Returns the payload bytes the reply carries. See <see cref="VfioDeviceFeature"/>.
    /// </summary>
    int DeviceFeature(uint flags, Span<byte> data, out VfioMigrationDataFile? dataFile);
}
