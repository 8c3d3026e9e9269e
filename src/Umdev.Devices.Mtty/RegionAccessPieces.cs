namespace Umdev.Devices.Mtty;

/// <summary>
/// Splits a device-file access into the pieces the sample processes one at a time (mtty.md §7.1):
/// 4 bytes when ≥ 4 remain and the offset is 4-aligned, else 2 when ≥ 2 remain and 2-aligned, else 1.
/// </summary>
internal ref struct RegionAccessPieces
{
    private readonly ulong _start;
    private readonly int _length;
    private int _done;

    public RegionAccessPieces(ulong start, int length)
    {
        _start = start;
        _length = length;
        _done = 0;
        Current = default;
    }

    /// <summary>Position in the caller's buffer, device-file offset and size of the current piece.</summary>
    public (int BufferOffset, ulong Offset, int Size) Current { get; private set; }

    public readonly RegionAccessPieces GetEnumerator() => this;

    public bool MoveNext()
    {
        _done += Current.Size;
        int remaining = _length - _done;
        if (remaining <= 0) return false;
        ulong pos = _start + (ulong)_done;
        int size = remaining >= 4 && pos % 4 == 0 ? 4 : remaining >= 2 && pos % 2 == 0 ? 2 : 1;
        Current = (_done, pos, size);
        return true;
    }
}
