using Umdev.Interop;

namespace Umdev.Vfio;

/// <summary>
/// One client mapping. Accesses to its memory are counted so an unmap can revoke it and wait until no
/// access is in flight before the memory is released: a revoked mapping is never touched again.
/// </summary>
public sealed class VfioDmaMapping
{
    private readonly object _lock = new();
    private int _accessors;
    private bool _revoked;

    internal VfioDmaMapping(ulong iova, ulong size, VfioDmaProtection protection, VfioDmaMemory memory)
    {
        Iova = iova;
        Size = size;
        Protection = protection;
        Memory = memory;
    }

    public ulong Iova { get; }
    public ulong Size { get; }
    public VfioDmaProtection Protection { get; }
    internal VfioDmaMemory Memory { get; }

    /// <summary>Last IOVA covered (inclusive), so a mapping ending at 2^64 needs no overflow.</summary>
    public ulong Last => Iova + (Size - 1);

    public bool Contains(ulong iova) => iova >= Iova && iova <= Last;

    internal void BeginAccess()
    {
        lock (_lock)
        {
            if (_revoked) ThrowHelper.Throw(Errno.EFAULT, "DMA mapping was unmapped");
            _accessors++;
        }
    }

    /// <summary>For copy-only memory nothing local is touched, so it is enough that the mapping is live.</summary>
    internal void CheckLive()
    {
        if (Volatile.Read(ref _revoked)) ThrowHelper.Throw(Errno.EFAULT, "DMA mapping was unmapped");
    }

    internal void EndAccess()
    {
        lock (_lock)
        {
            if (--_accessors == 0 && _revoked) Monitor.PulseAll(_lock);
        }
    }

    /// <summary>Refuses new accesses, waits for those in flight, then releases the memory.</summary>
    internal void Revoke()
    {
        lock (_lock)
        {
            _revoked = true;
            while (_accessors > 0) Monitor.Wait(_lock);
        }
        Memory.Dispose();
    }
}
