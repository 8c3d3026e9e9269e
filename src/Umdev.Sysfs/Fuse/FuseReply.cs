using System.Buffers.Binary;

namespace Umdev.Sysfs.Fuse;

/// <summary>Builds one reply (fuse_out_header + payload) in a reusable per-thread buffer.</summary>
internal sealed class FuseReply
{
    private readonly byte[] _buffer;
    private int _length;

    public FuseReply(int capacity) => _buffer = new byte[capacity];

    /// <summary>Starts a successful reply whose payload is then appended.</summary>
    public void Begin(ulong unique)
    {
        Array.Clear(_buffer, 0, FuseConst.OutHeaderSize);
        BinaryPrimitives.WriteUInt64LittleEndian(_buffer.AsSpan(8), unique);
        _length = FuseConst.OutHeaderSize;
    }

    /// <summary>A reply carrying only an error (a positive errno, sent negated).</summary>
    public void Error(ulong unique, int errno)
    {
        Begin(unique);
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(4), -errno);
    }

    public int Remaining => _buffer.Length - _length;

    /// <summary>Reserves <paramref name="size"/> zeroed payload bytes and returns them to fill.</summary>
    public Span<byte> Append(int size)
    {
        var span = _buffer.AsSpan(_length, size);
        span.Clear();
        _length += size;
        return span;
    }

    public ReadOnlySpan<byte> Finish()
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer, (uint)_length);
        return _buffer.AsSpan(0, _length);
    }
}
