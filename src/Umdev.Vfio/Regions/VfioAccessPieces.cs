namespace Umdev.Vfio;

/// <summary>
/// Splits a device-file access into the pieces the kernel's mdev samples (mtty, mbochs) handle one at a
/// time: 4 bytes when ≥ 4 remain and the offset is 4-aligned, else 2 when ≥ 2 remain and 2-aligned, else 1.
/// A register handler that acts per piece sees the widths such a driver sees.
/// </summary>
public ref struct VfioAccessPieces
{
    private readonly ulong _start;
    private readonly int _length;
    private int _done;

    /// <summary>The pieces of an access of <paramref name="length"/> bytes at <paramref name="start"/>.</summary>
    public VfioAccessPieces(ulong start, int length)
    {
        _start = start;
        _length = length;
        _done = 0;
        Current = default;
    }

    /// <summary>Position in the caller's buffer, offset and size of the current piece.</summary>
    public (int BufferOffset, ulong Offset, int Size) Current { get; private set; }

    /// <summary>Enumerates with <c>foreach</c>.</summary>
    public readonly VfioAccessPieces GetEnumerator() => this;

    /// <summary>Advances to the next piece; false when the access is done.</summary>
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
