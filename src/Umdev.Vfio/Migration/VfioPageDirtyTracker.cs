using System.IO.Hashing;
using System.Numerics;

namespace Umdev.Vfio.Migration;

/// <summary>
/// Finds the pages of <see cref="IVfioTrackedMemory"/> that changed since they were sent, for a driver's
/// PRE_COPY iterations over memory whose writes it cannot see (a VMM-mapped region): each page sent is
/// remembered by a 64-bit hash (XXH3) of the bytes sent, and <see cref="Scan"/> compares every page with
/// it. A page is pending from <see cref="Restart"/> until sent (initial data), and again when it changed
/// or was marked (dirty data). Writes the driver does see can be marked without waiting for a scan. Cost:
/// 8 bytes and 2 bits per page; a scan hashes all sent pages. A hash collision would hide a change with
/// probability 2^-64 per changed page. Thread-safe.
/// </summary>
public sealed class VfioPageDirtyTracker
{
    private readonly Lock _lock = new();
    private readonly IVfioTrackedMemory _memory;
    private readonly ulong[] _hashes;
    private readonly ulong[] _sent;     // one bit per page: sent at least once, its hash is valid
    private readonly ulong[] _pending;  // one bit per page: to be sent

    /// <summary>Tracks <paramref name="memory"/> in pages of <paramref name="pageSize"/> bytes (a power of two), every page pending.</summary>
    public VfioPageDirtyTracker(IVfioTrackedMemory memory, int pageSize = 4096)
    {
        if (pageSize <= 0 || (pageSize & (pageSize - 1)) != 0) throw new ArgumentException("page size must be a power of two", nameof(pageSize));
        _memory = memory;
        PageSize = pageSize;
        PageCount = (long)((memory.Size + (ulong)pageSize - 1) / (ulong)pageSize);
        _hashes = new ulong[PageCount];
        _sent = new ulong[(PageCount + 63) / 64];
        _pending = new ulong[_sent.Length];
        Restart();
    }

    /// <summary>Bytes per page.</summary>
    public int PageSize { get; }
    /// <summary>Pages of the memory, the last one possibly short.</summary>
    public long PageCount { get; }

    /// <summary>Bytes of page <paramref name="page"/> (the last one may be short).</summary>
    public int PageLength(long page) => (int)Math.Min((ulong)PageSize, _memory.Size - (ulong)page * (ulong)PageSize);

    /// <summary>A new migration: nothing counts as sent; every page is pending.</summary>
    public void Restart()
    {
        lock (_lock)
        {
            Array.Clear(_sent);
            Array.Fill(_pending, ulong.MaxValue);
            if (PageCount % 64 != 0) _pending[^1] = (1ul << (int)(PageCount % 64)) - 1;
        }
    }

    /// <summary>Compares every sent page that is not pending with its hash; the changed ones become pending. Returns the pending count.</summary>
    public long Scan()
    {
        lock (_lock)
        {
            for (long page = 0; page < PageCount; page++)
            {
                ulong bit = 1ul << (int)(page & 63);
                long word = page >> 6;
                if ((_sent[word] & bit) == 0 || (_pending[word] & bit) != 0) continue;
                if (Hash(page) != _hashes[page]) _pending[word] |= bit;
            }
            return Count(_pending);
        }
    }

    /// <summary>Marks the pages of [offset, offset + length) pending (writes the driver saw).</summary>
    public void MarkDirty(ulong offset, ulong length)
    {
        if (length == 0 || offset >= _memory.Size) return;
        ulong last = Math.Min(offset + (length - 1), _memory.Size - 1);
        lock (_lock)
        {
            for (ulong page = offset / (ulong)PageSize; page <= last / (ulong)PageSize; page++)
                _pending[page >> 6] |= 1ul << (int)(page & 63);
        }
    }

    /// <summary>The first pending page at or after <paramref name="from"/>, or -1.</summary>
    public long NextPending(long from = 0)
    {
        lock (_lock)
        {
            for (long word = Math.Max(from, 0) >> 6; word < _pending.Length; word++)
            {
                ulong bits = _pending[word];
                if (word == from >> 6) bits &= ulong.MaxValue << (int)(from & 63);
                if (bits != 0) return (word << 6) + BitOperations.TrailingZeroCount(bits);
            }
            return -1;
        }
    }

    /// <summary>
    /// Copies page <paramref name="page"/> into <paramref name="destination"/> (at least <see cref="PageLength"/>
    /// bytes), remembers the hash of the copy and clears the page's pending bit. Returns the bytes copied.
    /// </summary>
    public int Take(long page, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(page);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(page, PageCount);
        int length = PageLength(page);
        var copy = destination[..length];
        lock (_lock)
        {
            _memory.GetSpan((ulong)page * (ulong)PageSize, length).CopyTo(copy);
            // The hash of what was sent: a write racing with the copy shows up at the next scan.
            _hashes[page] = XxHash3.HashToUInt64(copy);
            ulong bit = 1ul << (int)(page & 63);
            _sent[page >> 6] |= bit;
            _pending[page >> 6] &= ~bit;
        }
        return length;
    }

    /// <summary>Pending pages never sent (the initial data still to go).</summary>
    public long UnsentPages
    {
        get
        {
            lock (_lock)
            {
                long n = 0;
                for (int i = 0; i < _pending.Length; i++) n += BitOperations.PopCount(_pending[i] & ~_sent[i]);
                return n;
            }
        }
    }

    /// <summary>Pending pages sent before (changed since).</summary>
    public long DirtyPages
    {
        get
        {
            lock (_lock)
            {
                long n = 0;
                for (int i = 0; i < _pending.Length; i++) n += BitOperations.PopCount(_pending[i] & _sent[i]);
                return n;
            }
        }
    }

    private ulong Hash(long page) => XxHash3.HashToUInt64(_memory.GetSpan((ulong)page * (ulong)PageSize, PageLength(page)));

    private static long Count(ulong[] bits)
    {
        long n = 0;
        foreach (ulong word in bits) n += BitOperations.PopCount(word);
        return n;
    }
}
