namespace Umdev.Vfio.Migration;

/// <summary>
/// The driver's side of a saving session: produces the stream in pieces as the user reads it, so no
/// one holds it whole. If it is <see cref="IDisposable"/>, the model disposes it when the session ends.
/// </summary>
public interface IVfioMigrationSource
{
    /// <summary>
    /// Writes the next bytes of the stream into <paramref name="destination"/> and returns how many (any
    /// number up to its length; the model calls again to fill a read). 0 means no more data now: the end
    /// of the stream in STOP_COPY; in PRE_COPY the end of what there is to send for the moment, and the
    /// source may have more later, e.g. after the running device dirtied pages again (the next iteration).
    /// </summary>
    int Produce(Span<byte> destination);

    /// <summary>
    /// VFIO_MIG_GET_PRECOPY_INFO (PRE_COPY states only): initial bytes still to be read, and bytes of
    /// state changed since they were read (an estimate, as in the kernel).
    /// </summary>
    VfioPrecopyInfo GetPrecopyInfo();
}

/// <summary>
/// The driver's side of a resuming session: takes the stream in the pieces the user writes, checking
/// what it can as it goes. If it is <see cref="IDisposable"/>, the model disposes it when the session ends.
/// </summary>
public interface IVfioMigrationSink
{
    /// <summary>
    /// Takes the next bytes, all of them, or throws to fail the write with its errno (ENOMEM past what
    /// the device can hold, with nothing taken; a bad header may fail after taking the bytes, as in the
    /// kernel). The span is only valid during the call.
    /// </summary>
    void Consume(ReadOnlySpan<byte> data);

    /// <summary>
    /// RESUMING→STOP: the stream is complete; validate what is left and apply it. Throwing fails the arc
    /// (EINVAL for a truncated or corrupt stream) and the device stays RESUMING with what was written.
    /// </summary>
    void Complete();
}
