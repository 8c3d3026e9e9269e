using Umdev.Interop;

namespace Umdev.Vfio.Migration;

/// <summary>
/// A migration data session (the kernel's migration file behind a data fd). It holds no data of its own:
/// bytes pass straight between the user's buffer and the driver's source or sink. Disabled when the session
/// ends; every later access fails with ENODEV.
/// </summary>
public abstract class VfioMigrationStream
{
    // Serializes the user's accesses with each other and with the arcs of the session.
    internal readonly Lock Sync = new();
    private protected bool Disabled;

    /// <summary>Bytes read or written so far.</summary>
    public ulong Position { get; private protected set; }

    private protected abstract object Driver { get; }

    /// <summary>Ends the session: the stream refuses every access and the driver's side is disposed.</summary>
    internal void Disable()
    {
        lock (Sync)
        {
            if (Disabled) return;
            Disabled = true;
            (Driver as IDisposable)?.Dispose();
        }
    }

    private protected void ThrowIfDisabled()
    {
        if (Disabled) ThrowHelper.Throw(Errno.ENODEV, "migration stream disabled");
    }
}

/// <summary>A saving stream: the user reads sequentially what the driver's source produces.</summary>
public sealed class VfioMigrationSaveStream : VfioMigrationStream
{
    internal VfioMigrationSaveStream(IVfioMigrationSource source) => Source = source;

    internal IVfioMigrationSource Source { get; }

    private protected override object Driver => Source;

    /// <summary>Fills <paramref name="destination"/> from the source until it is full or the source has no more now.</summary>
    internal int Read(Span<byte> destination)
    {
        lock (Sync)
        {
            ThrowIfDisabled();
            int done = 0;
            while (done < destination.Length)
            {
                int n = Source.Produce(destination[done..]);
                if ((uint)n > (uint)(destination.Length - done)) ThrowHelper.Throw(Errno.EIO, $"migration source produced {n} bytes into {destination.Length - done}");
                if (n == 0) break;
                done += n;
            }
            Position += (ulong)done;
            return done;
        }
    }

    internal VfioPrecopyInfo PrecopyInfo
    {
        get
        {
            lock (Sync)
            {
                ThrowIfDisabled();
                return Source.GetPrecopyInfo();
            }
        }
    }
}

/// <summary>A resuming stream: the user writes sequentially, the driver's sink takes each piece as it comes.</summary>
public sealed class VfioMigrationResumeStream : VfioMigrationStream
{
    internal VfioMigrationResumeStream(IVfioMigrationSink sink) => Sink = sink;

    internal IVfioMigrationSink Sink { get; }

    private protected override object Driver => Sink;

    /// <summary>Hands <paramref name="data"/> to the sink; its errors fail the write.</summary>
    internal int Write(ReadOnlySpan<byte> data)
    {
        lock (Sync)
        {
            ThrowIfDisabled();
            Sink.Consume(data);
            Position += (ulong)data.Length;
            return data.Length;
        }
    }

    /// <summary>RESUMING→STOP: the sink validates and applies the stream.</summary>
    internal void Complete()
    {
        lock (Sync)
        {
            ThrowIfDisabled();
            Sink.Complete();
        }
    }
}
