using Umdev.Vfio;

namespace Umdev.Fuzz;

/// <summary>
/// Client memory held in an array, reached by copies only. An access outside the slice throws
/// ArgumentOutOfRangeException: the DMA table let through bytes past a mapping, which is a failure.
/// </summary>
public sealed class ArrayDmaMemory(byte[] data, int start, int length) : VfioDmaMemory
{
    public override void Read(ulong offset, Span<byte> destination) =>
        data.AsSpan(start, length).Slice(checked((int)offset), destination.Length).CopyTo(destination);

    public override void Write(ulong offset, ReadOnlySpan<byte> source) =>
        source.CopyTo(data.AsSpan(start, length).Slice(checked((int)offset), source.Length));

    public override void Dispose() { }
}
