namespace Umdev.Vfio.Migration;

/// <summary>
/// What a vendor driver implements, next to <see cref="IVfioDeviceOps"/>, to support migration v2 (the
/// kernel's <c>vfio_migration_ops</c>). The driver implements single arcs only; the model walks the
/// state table, owns the data sessions and answers the features. The stream is never held whole: a
/// saving session pulls it from the driver's <see cref="IVfioMigrationSource"/> as the user reads, a
/// resuming session pushes it into the driver's <see cref="IVfioMigrationSink"/> as the user writes.
/// Every other arc is a transition with a method of its own, a no-op unless the driver implements it.
/// Calls on one device are serialized by the model. Throw <see cref="Interop.ErrnoException"/> to fail
/// an arc: the device then stays in <see cref="VfioMigrationArc.From"/>.
/// </summary>
public interface IVfioMigrationDriver
{
    /// <summary>The capabilities (at least STOP_COPY).</summary>
    VfioMigrationFlags MigrationFlags { get; }

    /// <summary>MIG_DATA_SIZE: estimated bytes of the STOP_COPY stream.</summary>
    ulong GetStopCopySize();

    /// <summary>
    /// The arcs that open a saving session (RUNNING→PRE_COPY, RUNNING_P2P→PRE_COPY_P2P, STOP→STOP_COPY):
    /// performs the arc and returns the producer of the session's stream. A session opened in PRE_COPY
    /// carries on into STOP_COPY with the same source (see <see cref="EnterStopCopy"/>).
    /// </summary>
    IVfioMigrationSource StartSaving(in VfioMigrationArc arc);

    /// <summary>STOP→RESUMING: performs the arc and returns the consumer of the stream to be written.</summary>
    IVfioMigrationSink StartResuming(in VfioMigrationArc arc);

    // Every other arc is one of the transitions below, each a no-op unless the driver has work in it. A
    // PRE_COPY session's arc into STOP_COPY is Quiesce, then EnterStopCopy. Arcs inside or out of a saving
    // session get its source in VfioMigrationArc.Source.

    /// <summary>
    /// The device stops: it starts no request and changes no state the stream carries, and returns once
    /// nothing is in progress (RUNNING or RUNNING_P2P → STOP; PRE_COPY or PRE_COPY_P2P → STOP_COPY).
    /// </summary>
    void Quiesce(in VfioMigrationArc arc) { }

    /// <summary>The device runs again (STOP → RUNNING or RUNNING_P2P); also on the way back after a reset.</summary>
    void Resume(in VfioMigrationArc arc) { }

    /// <summary>The device stops initiating peer-to-peer DMA, still answering accesses (RUNNING → RUNNING_P2P, PRE_COPY → PRE_COPY_P2P).</summary>
    void QuiesceP2P(in VfioMigrationArc arc) { }

    /// <summary>Peer-to-peer DMA may start again (RUNNING_P2P → RUNNING, PRE_COPY_P2P → PRE_COPY).</summary>
    void ResumeP2P(in VfioMigrationArc arc) { }

    /// <summary>
    /// A session opened in PRE_COPY enters STOP_COPY (after <see cref="Quiesce"/>): its source, in
    /// <see cref="VfioMigrationArc.Source"/>, must learn to produce the rest of the state.
    /// </summary>
    void EnterStopCopy(in VfioMigrationArc arc) { }

    /// <summary>A saving session ends (PRE_COPY → RUNNING, PRE_COPY_P2P → RUNNING_P2P, STOP_COPY → STOP); the model then closes it.</summary>
    void EndSaving(in VfioMigrationArc arc) { }
}

/// <summary>One arc of a transition, as the model hands it to the driver.</summary>
public readonly ref struct VfioMigrationArc
{
    /// <summary>An arc from <paramref name="from"/> to <paramref name="to"/>, with the saving session's <paramref name="source"/> if one is open.</summary>
    public VfioMigrationArc(VfioMigrationState from, VfioMigrationState to, IVfioMigrationSource? source)
    {
        From = from;
        To = to;
        Source = source;
    }

    /// <summary>The state the device is in.</summary>
    public VfioMigrationState From { get; }
    /// <summary>The state the arc leads to (one step of the kernel's state table).</summary>
    public VfioMigrationState To { get; }

    /// <summary>The producer of the current saving session, for arcs inside or out of it; else null.</summary>
    public IVfioMigrationSource? Source { get; }
}

/// <summary>
/// Optional, for drivers that track the pages they write themselves (the kernel's <c>vfio_log_ops</c>).
/// Without it the model logs what the device writes through its DMA table (<see cref="VfioDmaDirtyLog"/>).
/// </summary>
public interface IVfioDmaLoggingDriver
{
    /// <summary>Starts logging; returns the page size used.</summary>
    ulong StartDmaLogging(ulong pageSize, ReadOnlySpan<VfioDmaLoggingRange> ranges);

    /// <summary>Stops logging and forgets the log.</summary>
    void StopDmaLogging();

    /// <summary>Sets the bits of pages written in [iova, iova + length) and clears the log.</summary>
    void ReportDmaLogging(ulong iova, ulong length, ulong pageSize, Span<byte> bitmap);
}
