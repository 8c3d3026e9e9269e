using System.Numerics;
using System.Runtime.InteropServices;

namespace Umdev.Vfio;

/// <summary>
/// The model's DMA dirty log (DMA_LOGGING_START/STOP/REPORT for drivers that do not log themselves): while
/// it runs, every byte a device writes into client memory through its <see cref="VfioDmaTable"/> —
/// <see cref="VfioDmaTable.Write"/> and pins for <see cref="VfioDmaDirection.FromDevice"/>, which count as
/// written for as long as they live — marks its page dirty if it lies in a logged range. The log is
/// sparse (one 64-page word per touched stretch), so a range may cover the whole IOVA space.
/// </summary>
public sealed class VfioDmaDirtyLog
{
    private readonly Lock _lock = new();
    // Made on first use: every migratable device has a log, few ever run one.
    private HashSet<VfioDmaPin>? _writePins;
    private Dictionary<ulong, ulong>? _words;   // page number / 64 → one bit per page
    private (ulong First, ulong Last)[] _ranges = [];
    private int _pageShift;
    private volatile bool _active;

    public bool IsActive => _active;

    /// <summary>Starts an empty log over sorted, disjoint, aligned ranges; a log already running is replaced.</summary>
    internal ulong Start(ulong pageSize, (ulong First, ulong Last)[] sortedRanges)
    {
        lock (_lock)
        {
            _pageShift = BitOperations.TrailingZeroCount(pageSize);
            _ranges = sortedRanges;
            _words?.Clear();
            _active = true;
        }
        return pageSize;
    }

    internal void Stop()
    {
        lock (_lock)
        {
            _active = false;
            _words?.Clear();
            _ranges = [];
        }
    }

    /// <summary>Marks the logged pages of [iova, iova + length) written.</summary>
    internal void Record(ulong iova, ulong length)
    {
        if (!_active || length == 0) return;
        lock (_lock)
        {
            if (_active) RecordLocked(iova, length);
        }
    }

    private void RecordLocked(ulong iova, ulong length)
    {
        ulong last = iova + (length - 1);
        foreach (var (first, rangeLast) in _ranges)
        {
            ulong from = Math.Max(first, iova), to = Math.Min(rangeLast, last);
            if (from > to) continue;
            for (ulong page = from >> _pageShift; ; page++)
            {
                ref ulong word = ref CollectionsMarshal.GetValueRefOrAddDefault(_words ??= [], page >> 6, out _);
                word |= 1ul << (int)(page & 63);
                if (page == to >> _pageShift) break;
            }
        }
    }

    internal void AddWritePin(VfioDmaPin pin)
    {
        lock (_lock) (_writePins ??= []).Add(pin);
        Record(pin.Iova, (ulong)pin.Length);
    }

    internal void RemoveWritePin(VfioDmaPin pin)
    {
        Record(pin.Iova, (ulong)pin.Length);
        lock (_lock) _writePins?.Remove(pin);
    }

    /// <summary>
    /// Sets the bit of every <paramref name="pageSize"/> page of [iova, iova + length) that holds a written
    /// byte (live write pins included) and forgets the logged pages the range covers whole. Nothing when
    /// the log is not running.
    /// </summary>
    internal void Report(ulong iova, ulong length, ulong pageSize, Span<byte> bitmap)
    {
        if (length == 0) return;
        lock (_lock)
        {
            if (!_active) return;
            foreach (var pin in _writePins ?? []) RecordLocked(pin.Iova, (ulong)pin.Length);
            ulong last = iova + (length - 1);
            int reportShift = BitOperations.TrailingZeroCount(pageSize);
            List<ulong>? emptied = null;
            foreach (var key in _words?.Keys.ToArray() ?? [])
            {
                ulong word = _words![key];
                for (ulong bits = word; bits != 0; bits &= bits - 1)
                {
                    ulong page = (key << 6) | (uint)BitOperations.TrailingZeroCount(bits);
                    ulong first = page << _pageShift, pageLast = first + ((1ul << _pageShift) - 1);
                    ulong from = Math.Max(first, iova), to = Math.Min(pageLast, last);
                    if (from > to) continue;
                    for (ulong bit = (from - iova) >> reportShift; bit <= (to - iova) >> reportShift; bit++)
                        bitmap[(int)(bit >> 3)] |= (byte)(1 << (int)(bit & 7));
                    if (from == first && to == pageLast) word &= ~(1ul << (int)(page & 63));
                }
                if (word == 0) (emptied ??= []).Add(key);
                else _words![key] = word;
            }
            if (emptied is not null) foreach (var key in emptied) _words!.Remove(key);
        }
    }
}
