using Umdev.Vfio;

namespace Umdev.Virtio;

/// <summary>
/// A descriptor chain taken from a virtqueue, flattened (indirect tables resolved): device-readable
/// buffers first, then device-writable ones, every index and length already checked against the queue.
/// A device sees the readable and the writable buffers as two byte streams (<see cref="ReadReadable"/>,
/// <see cref="WriteWritable"/>, <see cref="Pieces"/>); guest memory is reached only through the client's
/// DMA mappings (<see cref="Dma"/>). One object per queue, reused for every chain.
/// </summary>
public sealed class VirtqueueChain
{
    private readonly VirtqueueBuffer[] _buffers;

    internal VirtqueueChain(int capacity) => _buffers = new VirtqueueBuffer[capacity];

    /// <summary>The head descriptor index (what the used ring reports).</summary>
    public ushort Head { get; private set; }

    /// <summary>The DMA mappings of the client the chain came from.</summary>
    public VfioDmaTable Dma { get; private set; } = null!;

    /// <summary>Buffers in the chain.</summary>
    public int Count { get; private set; }

    /// <summary>Index of the first device-writable buffer (<see cref="Count"/> when there is none).</summary>
    public int FirstWritable { get; private set; }

    /// <summary>Total bytes of the device-readable buffers.</summary>
    public long ReadableLength { get; private set; }

    /// <summary>Total bytes of the device-writable buffers.</summary>
    public long WritableLength { get; private set; }

    /// <summary>Buffer <paramref name="index"/> (0 ≤ index &lt; <see cref="Count"/>).</summary>
    public VirtqueueBuffer this[int index] => _buffers.AsSpan(0, Count)[index];

    internal int Capacity => _buffers.Length;

    internal void Start(VfioDmaTable dma, ushort head)
    {
        Dma = dma;
        Head = head;
        Count = 0;
        FirstWritable = 0;
        ReadableLength = WritableLength = 0;
    }

    /// <summary>Appends a buffer; the ordering rule (no readable after a writable one) is the driver's to keep.</summary>
    internal void Add(ulong address, uint length, bool writable)
    {
        if (Count == _buffers.Length) throw new VirtqueueException($"descriptor chain longer than the queue ({_buffers.Length})");
        if (!writable && Count > FirstWritable)
            throw new VirtqueueException("a device-readable descriptor follows a device-writable one");
        if (length > 0 && SplitVirtqueue.Wraps(address, length)) throw new VirtqueueException($"buffer at 0x{address:x} wraps");
        _buffers[Count++] = new VirtqueueBuffer(address, length, writable);
        if (writable) WritableLength += length;
        else
        {
            ReadableLength += length;
            FirstWritable = Count;
        }
    }

    /// <summary>Copies readable bytes [offset, offset + destination.Length) out of guest memory (EFAULT outside the mappings).</summary>
    public void ReadReadable(long offset, Span<byte> destination)
    {
        foreach (var (address, length, at) in Pieces(writable: false, offset, destination.Length))
            Dma.Read(address, destination.Slice(at, length));
    }

    /// <summary>Copies <paramref name="source"/> into the writable bytes at <paramref name="offset"/> (EFAULT outside the mappings).</summary>
    public void WriteWritable(long offset, ReadOnlySpan<byte> source)
    {
        foreach (var (address, length, at) in Pieces(writable: true, offset, source.Length))
            Dma.Write(address, source.Slice(at, length));
    }

    /// <summary>
    /// The guest ranges behind [offset, offset + length) of the readable or writable byte stream, in
    /// order; ArgumentOutOfRangeException if the stream is shorter (check the lengths first).
    /// </summary>
    public PieceEnumerator Pieces(bool writable, long offset, long length)
    {
        long total = writable ? WritableLength : ReadableLength;
        if (offset < 0 || length < 0 || offset > total - length)
            throw new ArgumentOutOfRangeException(nameof(length), $"{length} bytes at {offset} exceed the chain's {total}");
        return new PieceEnumerator(this, writable ? FirstWritable : 0, writable ? Count : FirstWritable, offset, length);
    }

    /// <summary>One guest range of a byte stream: its address, length and where it starts in the requested span.</summary>
    public readonly record struct Piece(ulong Address, int Length, int At);

    /// <summary>Enumerates the pieces of a byte range (no allocation).</summary>
    public ref struct PieceEnumerator
    {
        private readonly VirtqueueChain _chain;
        private readonly int _end;
        private int _index;
        private long _skip, _left;
        private int _at;

        internal PieceEnumerator(VirtqueueChain chain, int start, int end, long offset, long length)
        {
            _chain = chain;
            _index = start - 1;
            _end = end;
            _skip = offset;
            _left = length;
        }

        /// <summary>The current piece.</summary>
        public Piece Current { get; private set; }

        /// <summary>Itself, for <c>foreach</c>.</summary>
        public readonly PieceEnumerator GetEnumerator() => this;

        /// <summary>Moves to the next non-empty piece.</summary>
        public bool MoveNext()
        {
            while (_left > 0 && ++_index < _end)
            {
                var b = _chain._buffers[_index];
                if (_skip >= b.Length)
                {
                    _skip -= b.Length;
                    continue;
                }
                int n = (int)Math.Min(b.Length - _skip, Math.Min(_left, int.MaxValue));
                Current = new Piece(b.Address + (ulong)_skip, n, _at);
                _skip = 0;
                _left -= n;
                _at += n;
                return true;
            }
            return false;
        }
    }
}
