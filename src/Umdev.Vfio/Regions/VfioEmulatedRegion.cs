namespace Umdev.Vfio;

/// <summary>Reads <c>data.Length</c> bytes of a region at an in-region offset the model has checked.</summary>
public delegate void VfioRegionReader(ulong offset, Span<byte> data);

/// <summary>Writes <c>data</c> into a region at an in-region offset the model has checked.</summary>
public delegate void VfioRegionWriter(ulong offset, ReadOnlySpan<byte> data);

/// <summary>
/// A region whose every access runs driver code (registers, config space): no mmap, each access a
/// message over vfio-user. The handlers serialise what they need.
/// </summary>
public sealed class VfioEmulatedRegion : VfioRegion
{
    private readonly VfioRegionReader _read;
    private readonly VfioRegionWriter _write;

    /// <summary>Region <paramref name="index"/> of <paramref name="size"/> bytes whose accesses run <paramref name="read"/> and <paramref name="write"/>; <paramref name="flags"/> as GET_REGION_INFO reports them (never mmap).</summary>
    public VfioEmulatedRegion(uint index, ulong size, VfioRegionReader read, VfioRegionWriter write,
        VfioRegionFlags flags = VfioRegionFlags.Read | VfioRegionFlags.Write)
        : base(index, size, flags & ~VfioRegionFlags.Mmap)
    {
        _read = read;
        _write = write;
    }

    /// <inheritdoc/>
    protected internal override void Read(ulong offset, Span<byte> data) => _read(offset, data);

    /// <inheritdoc/>
    protected internal override void Write(ulong offset, ReadOnlySpan<byte> data) => _write(offset, data);
}
