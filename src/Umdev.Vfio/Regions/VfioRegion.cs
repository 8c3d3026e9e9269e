namespace Umdev.Vfio;

/// <summary>
/// One region a driver declares: its index, size, flags and how it is reached. The model checks every
/// access against <see cref="Size"/> (EINVAL outside it) before the region's code runs, so the offsets a
/// region sees are always inside it. Use <see cref="VfioEmulatedRegion"/>, <see cref="VfioMemoryRegion"/>
/// or <see cref="Empty"/>; a driver may also derive its own emulated region (one object instead of two
/// handler delegates, which counts when a daemon holds thousands of devices).
/// </summary>
public abstract class VfioRegion
{
    protected VfioRegion(uint index, ulong size, VfioRegionFlags flags)
    {
        if (index > VfioPci.MaxRegionIndex) throw new ArgumentOutOfRangeException(nameof(index));
        if (size > VfioPci.OffsetMask + 1) throw new ArgumentOutOfRangeException(nameof(size), "a region is at most 2^40 bytes");
        Index = index;
        Size = size;
        Flags = flags & ~VfioRegionFlags.Caps; // derived from the capabilities when encoded
        AccessibleWhileFrozen = index == VfioPci.ConfigRegionIndex;
    }

    /// <summary>The region index (PCI: BAR0-5, ROM 6, config 7, VGA 8; device-specific above).</summary>
    public uint Index { get; }

    /// <summary>Bytes of the region; accesses beyond it are refused with EINVAL.</summary>
    public ulong Size { get; }

    /// <summary>READ, WRITE, MMAP as GET_REGION_INFO reports them (CAPS is derived).</summary>
    public VfioRegionFlags Flags { get; }

    /// <summary>Region capabilities reported by GET_REGION_INFO (sparse mmap areas, type).</summary>
    public IReadOnlyList<VfioRegionCapability> Capabilities { get; init; } = [];

    /// <summary>
    /// The driver's freeze policy for this region: whether accesses are served while the device is
    /// frozen for migration (STOP, STOP_COPY, RESUMING). By default only PCI config space is: the
    /// kernel requires a stopped device to answer config accesses and a VMM restores config space
    /// into a resuming device, while any other access could change or read state being saved.
    /// </summary>
    public bool AccessibleWhileFrozen { get; init; }

    /// <summary>What GET_REGION_INFO reports; the offset is <c>index &lt;&lt; 40</c> unless the region is mappable.</summary>
    public virtual VfioRegionInfo Info => new(Index, Flags, Size, VfioPci.IndexToOffset(Index)) { Capabilities = Capabilities };

    /// <summary>Reads <paramref name="data"/>.Length bytes at <paramref name="offset"/>; the model has checked the range.</summary>
    protected internal abstract void Read(ulong offset, Span<byte> data);

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/>; the model has checked the range.</summary>
    protected internal abstract void Write(ulong offset, ReadOnlySpan<byte> data);

    /// <summary>Releases what the region holds (memory); called when its device is unregistered.</summary>
    protected internal virtual void Release() { }

    /// <summary>
    /// A region that exists with no bytes (an unimplemented BAR): reported with <paramref name="flags"/>
    /// and size 0, so every access to it is refused.
    /// </summary>
    public static VfioRegion Empty(uint index, VfioRegionFlags flags = VfioRegionFlags.None) =>
        index < VfioPci.NumRegions && flags == VfioRegionFlags.None ? EmptyNone[index]
        : index < VfioPci.NumRegions && flags == ReadWrite ? EmptyReadWrite[index]
        : new EmptyRegion(index, flags);

    private const VfioRegionFlags ReadWrite = VfioRegionFlags.Read | VfioRegionFlags.Write;

    // An empty region holds nothing, so the common ones are shared by every device.
    private static readonly VfioRegion[] EmptyNone = [.. Enumerable.Range(0, (int)VfioPci.NumRegions).Select(i => new EmptyRegion((uint)i, VfioRegionFlags.None))];
    private static readonly VfioRegion[] EmptyReadWrite = [.. Enumerable.Range(0, (int)VfioPci.NumRegions).Select(i => new EmptyRegion((uint)i, ReadWrite))];

    private sealed class EmptyRegion(uint index, VfioRegionFlags flags) : VfioRegion(index, 0, flags)
    {
        protected internal override void Read(ulong offset, Span<byte> data) { }

        protected internal override void Write(ulong offset, ReadOnlySpan<byte> data) { }
    }
}
