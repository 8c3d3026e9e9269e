namespace Umdev.Vfio.Migration;

/// <summary>
/// What a vendor driver implements, next to <see cref="IVfioDeviceOps"/>, to support migration v2 (the
/// kernel's <c>vfio_migration_ops</c>). The driver implements single arcs only; the model walks the
/// state table, opens, hands over and closes the data streams, and answers the features.
/// </summary>
public interface IVfioMigrationDriver
{
    /// <summary>The capabilities (at least STOP_COPY).</summary>
    VfioMigrationFlags MigrationFlags { get; }

    /// <summary>MIG_DATA_SIZE: estimated bytes of the STOP_COPY stream.</summary>
    ulong GetStopCopySize();

    /// <summary>The most bytes a resuming stream accepts; a write beyond it fails with ENOMEM.</summary>
    int ResumeCapacity { get; }

    /// <summary>
    /// Performs one arc. Saving arcs get the session's stream in <see cref="VfioMigrationArc.Saving"/>
    /// (new for RUNNING→PRE_COPY, RUNNING_P2P→PRE_COPY_P2P and STOP→STOP_COPY) to append to;
    /// RESUMING→STOP gets every byte written in <see cref="VfioMigrationArc.Resumed"/> and must
    /// validate and apply them. Throw <see cref="Interop.ErrnoException"/> to fail the arc: the device
    /// then stays in <see cref="VfioMigrationArc.From"/>.
    /// </summary>
    void Step(in VfioMigrationArc arc);

    /// <summary>
    /// Called after each write into a resuming stream, with all bytes written so far and the count
    /// before this write; throwing fails the write (its bytes stay written, as in the kernel).
    /// </summary>
    void OnResumeWrite(ReadOnlySpan<byte> written, int previousLength) { }
}

/// <summary>One arc of a transition, as the model hands it to the driver.</summary>
public readonly ref struct VfioMigrationArc
{
    public VfioMigrationArc(VfioMigrationState from, VfioMigrationState to, VfioMigrationSaveStream? saving, ReadOnlySpan<byte> resumed)
    {
        From = from;
        To = to;
        Saving = saving;
        Resumed = resumed;
    }

    public VfioMigrationState From { get; }
    public VfioMigrationState To { get; }

    /// <summary>The saving stream of the session for arcs into or inside the saving states.</summary>
    public VfioMigrationSaveStream? Saving { get; }

    /// <summary>The bytes written into the resuming stream (RESUMING→STOP only).</summary>
    public ReadOnlySpan<byte> Resumed { get; }
}

/// <summary>
/// Optional, for drivers that do DMA and track dirty pages (the kernel's <c>vfio_log_ops</c>). A
/// migration driver without it is taken as doing no DMA: the logging features succeed as no-ops.
/// </summary>
public interface IVfioDmaLoggingDriver
{
    /// <summary>Starts logging; returns the page size used.</summary>
    ulong StartDmaLogging(ulong pageSize, ReadOnlySpan<VfioDmaLoggingRange> ranges);

    void StopDmaLogging();

    /// <summary>Sets the bits of pages written in [iova, iova + length) and clears the log.</summary>
    void ReportDmaLogging(ulong iova, ulong length, ulong pageSize, Span<byte> bitmap);
}
