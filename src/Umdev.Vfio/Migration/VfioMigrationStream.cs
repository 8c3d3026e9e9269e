using Umdev.Interop;

namespace Umdev.Vfio.Migration;

/// <summary>
/// A migration data session (the kernel's migration file behind a data fd). Disabled when its session
/// ends; every later access fails with ENODEV.
/// </summary>
public abstract class VfioMigrationStream
{
    private protected readonly Lock Sync = new();
    private protected byte[] Buffer = [];
    private protected int Filled;
    private protected int Position;
    private protected bool Disabled;

    /// <summary>Ends the session: the data is dropped and the stream refuses every access.</summary>
    internal void Disable()
    {
        lock (Sync)
        {
            Disabled = true;
            Filled = 0;
            Position = 0;
        }
    }

    private protected void EnsureCapacity(int size)
    {
        if (Buffer.Length >= size) return;
        Array.Resize(ref Buffer, Math.Max(size, Math.Max(64, Buffer.Length * 2)));
    }
}

/// <summary>A saving stream: the driver appends, the user reads sequentially.</summary>
public sealed class VfioMigrationSaveStream : VfioMigrationStream
{
    /// <summary>Appends device data (driver side).</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        lock (Sync)
        {
            if (Disabled) ThrowHelper.Throw(Errno.ENODEV, "migration stream disabled");
            EnsureCapacity(checked(Filled + data.Length));
            data.CopyTo(Buffer.AsSpan(Filled));
            Filled += data.Length;
        }
    }

    /// <summary>Reads the next bytes; 0 at the (current) end of the stream.</summary>
    internal int Read(Span<byte> destination)
    {
        lock (Sync)
        {
            if (Disabled) ThrowHelper.Throw(Errno.ENODEV, "migration stream disabled");
            int n = Math.Min(Filled - Position, destination.Length);
            Buffer.AsSpan(Position, n).CopyTo(destination);
            Position += n;
            return n;
        }
    }

    /// <summary>Bytes appended and not yet read.</summary>
    internal ulong Pending
    {
        get
        {
            lock (Sync)
            {
                if (Disabled) ThrowHelper.Throw(Errno.ENODEV, "migration stream disabled");
                return (ulong)(Filled - Position);
            }
        }
    }
}

/// <summary>A resuming stream: the user writes sequentially, the driver loads the whole at RESUMING→STOP.</summary>
public sealed class VfioMigrationResumeStream : VfioMigrationStream
{
    private readonly IVfioMigrationDriver _driver;
    private readonly int _capacity;

    internal VfioMigrationResumeStream(IVfioMigrationDriver driver)
    {
        _driver = driver;
        _capacity = driver.ResumeCapacity;
    }

    /// <summary>
    /// Appends user data. ENOMEM if the total would pass the driver's capacity (nothing is taken);
    /// the driver's check may then fail the write with its errno after the bytes are taken.
    /// </summary>
    internal int Write(ReadOnlySpan<byte> data)
    {
        lock (Sync)
        {
            if ((long)Filled + data.Length > _capacity) ThrowHelper.Throw(Errno.ENOMEM, "more data than the device state");
            if (Disabled) ThrowHelper.Throw(Errno.ENODEV, "migration stream disabled");
            EnsureCapacity(Filled + data.Length);
            data.CopyTo(Buffer.AsSpan(Filled));
            int before = Filled;
            Filled += data.Length;
            _driver.OnResumeWrite(Buffer.AsSpan(0, Filled), before);
            return data.Length;
        }
    }

    /// <summary>Runs <paramref name="load"/> over everything written so far.</summary>
    internal void Load<TState>(TState state, VfioMigrationLoad<TState> load)
    {
        lock (Sync) load(state, Buffer.AsSpan(0, Filled));
    }
}

internal delegate void VfioMigrationLoad<TState>(TState state, ReadOnlySpan<byte> data);
