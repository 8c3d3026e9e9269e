namespace Umdev.Vfio.Migration;

/// <summary>
/// Device memory a <see cref="VfioPageDirtyTracker"/> watches: typically a region a VMM maps and writes
/// directly, so that no write is ever seen by the model.
/// </summary>
public interface IVfioTrackedMemory
{
    /// <summary>Bytes of the memory.</summary>
    ulong Size { get; }

    /// <summary>The bytes at [offset, offset + length), valid until the memory is released.</summary>
    ReadOnlySpan<byte> GetSpan(ulong offset, int length);
}

/// <summary>Tracked memory over managed or native memory the caller keeps alive.</summary>
public sealed unsafe class VfioTrackedMemory : IVfioTrackedMemory
{
    private readonly Memory<byte> _managed;
    private readonly byte* _pointer;

    /// <summary>Managed memory, e.g. a driver's array.</summary>
    public VfioTrackedMemory(Memory<byte> memory)
    {
        _managed = memory;
        Size = (ulong)memory.Length;
    }

    /// <summary>Memory mapped into this process, e.g. a memfd-backed region's mapping.</summary>
    public VfioTrackedMemory(byte* pointer, ulong size)
    {
        _pointer = pointer;
        Size = size;
    }

    /// <inheritdoc/>
    public ulong Size { get; }

    /// <inheritdoc/>
    public ReadOnlySpan<byte> GetSpan(ulong offset, int length)
    {
        if (offset > Size || (ulong)length > Size - offset) throw new ArgumentOutOfRangeException(nameof(offset));
        return _pointer is null ? _managed.Span.Slice((int)offset, length) : new ReadOnlySpan<byte>(_pointer + offset, length);
    }
}
