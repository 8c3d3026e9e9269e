using Umdev.Interop;

namespace Umdev.Vfio.Migration;

/// <summary>
/// A source for a driver whose saved state is small (registers, a few records): what the driver appends
/// is produced in order. In PRE_COPY, initial_bytes is what is appended and not yet read; dirty_bytes is 0.
/// </summary>
public sealed class VfioMigrationBufferSource(int capacity = 64) : IVfioMigrationSource
{
    private byte[] _buffer = new byte[Math.Max(capacity, 16)];
    private int _filled;
    private int _read;

    /// <summary>Appends bytes to the stream (from the arcs; the model serializes them with reads).</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        if (_buffer.Length - _filled < data.Length)
            Array.Resize(ref _buffer, Math.Max(checked(_filled + data.Length), _buffer.Length * 2));
        data.CopyTo(_buffer.AsSpan(_filled));
        _filled += data.Length;
    }

    /// <inheritdoc/>
    public int Produce(Span<byte> destination)
    {
        int n = Math.Min(_filled - _read, destination.Length);
        _buffer.AsSpan(_read, n).CopyTo(destination);
        _read += n;
        return n;
    }

    /// <inheritdoc/>
    public VfioPrecopyInfo GetPrecopyInfo() => new((ulong)(_filled - _read), 0);
}

/// <summary>
/// A sink for a driver whose saved state is small and has a known maximum size: it keeps up to
/// <paramref name="capacity"/> bytes (a write past it fails with ENOMEM and takes nothing) and hands
/// them over whole to <see cref="Load"/> at RESUMING→STOP.
/// </summary>
public abstract class VfioMigrationBufferSink(int capacity) : IVfioMigrationSink
{
    private readonly byte[] _buffer = new byte[capacity];
    private int _filled;

    /// <inheritdoc/>
    public void Consume(ReadOnlySpan<byte> data)
    {
        if (data.Length > _buffer.Length - _filled) ThrowHelper.Throw(Errno.ENOMEM, "more data than the device state");
        data.CopyTo(_buffer.AsSpan(_filled));
        int before = _filled;
        _filled += data.Length;
        OnWrite(_buffer.AsSpan(0, _filled), before);
    }

    /// <inheritdoc/>
    public void Complete() => Load(_buffer.AsSpan(0, _filled));

    /// <summary>After each write, with all bytes so far and the count before it; throwing fails that write (its bytes stay taken).</summary>
    protected virtual void OnWrite(ReadOnlySpan<byte> written, int previousLength) { }

    /// <summary>Validates and applies the whole stream; throw (EINVAL) to refuse it.</summary>
    protected abstract void Load(ReadOnlySpan<byte> data);
}
