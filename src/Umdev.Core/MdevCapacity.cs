using Umdev.Interop;

namespace Umdev.Core;

/// <summary>
/// A driver's pool of what its devices take at create and give back at remove (mtty's ports, mbochs's
/// megabytes): taken atomically, as the kernel samples' compare-and-swap loops, so parallel creates never
/// overdraw it, and read without a lock by <see cref="MdevDriver.GetAvailableInstances"/>.
/// </summary>
public sealed class MdevCapacity
{
    private int _available;

    /// <summary>A pool of <paramref name="capacity"/> units, all free.</summary>
    public MdevCapacity(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        _available = capacity;
    }

    /// <summary>Units not held by any device.</summary>
    public int Available => Volatile.Read(ref _available);

    /// <summary>Takes <paramref name="units"/>; ENOSPC (the samples' errno) with <paramref name="what"/> when fewer are free.</summary>
    public void Take(int units, string what)
    {
        int available = Volatile.Read(ref _available);
        while (true)
        {
            if (available < units) ThrowHelper.Throw(Errno.ENOSPC, $"only {available} {what} left");
            int seen = Interlocked.CompareExchange(ref _available, available - units, available);
            if (seen == available) return;
            available = seen;
        }
    }

    /// <summary>Gives back what <see cref="Take"/> took.</summary>
    public void Give(int units) => Interlocked.Add(ref _available, units);
}
