using Umdev.Interop;
using Umdev.Vfio.Migration;

namespace Umdev.Vfio;

/// <summary>
/// A region backed by memory a VMM may map (a BAR holding a framebuffer, a buffer ring): a memfd the
/// driver reads and writes through <see cref="Span"/>, passed to clients with GET_REGION_INFO so their
/// accesses need no message. Accesses that do come as reads and writes are served from the same memory.
/// Only the <see cref="SparseAreas"/> may be mapped when any are given; the rest stays emulated. The memfd is
/// sealed against resizing (and further sealing), so nothing a client does with it can fault the driver.
/// </summary>
public sealed class VfioMemoryRegion : VfioRegion, IVfioTrackedMemory
{
    private readonly FileDescriptorHandle _memfd;
    private readonly MemoryMapping _mapping;
    private VfioPageDirtyTracker? _tracker;

    /// <param name="index">The region index (a BAR: 0-5).</param>
    /// <param name="size">The region's size in bytes, also the memfd's; at least one byte.</param>
    /// <param name="sparseAreas">The mappable parts, in-region (null: the whole region).</param>
    /// <param name="flags">Read/write flags reported by GET_REGION_INFO; the model adds <c>Mmap</c>.</param>
    /// <param name="name">The memfd's name (what <c>/proc/PID/maps</c> shows).</param>
    public VfioMemoryRegion(uint index, ulong size, IReadOnlyList<VfioSparseMmapArea>? sparseAreas = null,
        VfioRegionFlags flags = VfioRegionFlags.Read | VfioRegionFlags.Write, string name = "umdev-region")
        : base(index, size, flags | VfioRegionFlags.Mmap)
    {
        if (size == 0) throw new ArgumentOutOfRangeException(nameof(size), "a memory region needs bytes");
        foreach (var area in sparseAreas ?? [])
            if (area.Offset > size || area.Size > size - area.Offset)
                throw new ArgumentOutOfRangeException(nameof(sparseAreas), "a sparse area lies outside the region");
        SparseAreas = sparseAreas;
        // Sealed before any client holds it: a client's ftruncate would make the driver's accesses fault.
        _memfd = MemFd.Create(name, size, MemFd.Resize | MemFdSeals.Seal);
        try
        {
            _mapping = MemoryMapping.Map(_memfd, 0, size, writable: true);
        }
        catch
        {
            _memfd.Dispose();
            throw;
        }
        if (sparseAreas is not null) Capabilities = [new VfioSparseMmapCapability(sparseAreas)];
    }

    /// <summary>The parts a VMM may map (null: the whole region).</summary>
    public IReadOnlyList<VfioSparseMmapArea>? SparseAreas { get; }

    /// <summary>The descriptor clients map; its offset 0 is the region's first byte.</summary>
    public FileDescriptorHandle MemoryHandle => _memfd;

    /// <summary>Offset 0: the offset into <see cref="MemoryHandle"/>, where a client maps the region.</summary>
    public override VfioRegionInfo Info =>
        new(Index, Flags, Size, 0) { Capabilities = Capabilities, MmapHandle = _memfd };

    /// <summary>
    /// The driver's view of <paramref name="length"/> bytes at <paramref name="offset"/> (valid until the
    /// device is unregistered). A VMM may write the same bytes concurrently.
    /// </summary>
    public Span<byte> Span(ulong offset, int length) => _mapping.Span(offset, length);

    ReadOnlySpan<byte> IVfioTrackedMemory.GetSpan(ulong offset, int length) => Span(offset, length);

    /// <summary>
    /// Starts tracking which pages change, for a driver's PRE_COPY iterations: writes a VMM makes through
    /// its mapping are found by <see cref="VfioPageDirtyTracker.Scan"/>, writes that come as region writes
    /// are marked as they happen.
    /// </summary>
    public VfioPageDirtyTracker StartTracking(int pageSize = 4096)
    {
        var tracker = new VfioPageDirtyTracker(this, pageSize);
        Volatile.Write(ref _tracker, tracker);
        return tracker;
    }

    /// <summary>Stops marking region writes in the tracker <see cref="StartTracking"/> gave.</summary>
    public void StopTracking() => Volatile.Write(ref _tracker, null);

    /// <summary>
    /// Calls <paramref name="reader"/> with the <paramref name="length"/> bytes at <paramref name="offset"/>,
    /// read-only, holding the memory mapped until it returns (see <see cref="VfioDevice.ReadPlane"/>): the
    /// bytes are the device's own, no copy. ObjectDisposedException once released.
    /// </summary>
    internal void Read<TState>(ulong offset, int length, TState state, System.Buffers.ReadOnlySpanAction<byte, TState> reader)
    {
        bool added = false;
        _mapping.DangerousAddRef(ref added);
        try { reader(Span(offset, length), state); }
        finally { if (added) _mapping.DangerousRelease(); }
    }

    // A reference on the mapping for the copy, so a removal racing an access cannot unmap under it.
    /// <inheritdoc/>
    protected internal override void Read(ulong offset, Span<byte> data)
    {
        bool added = false;
        _mapping.DangerousAddRef(ref added);
        try { Span(offset, data.Length).CopyTo(data); }
        finally { if (added) _mapping.DangerousRelease(); }
    }

    /// <inheritdoc/>
    protected internal override void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        bool added = false;
        _mapping.DangerousAddRef(ref added);
        try { data.CopyTo(Span(offset, data.Length)); }
        finally { if (added) _mapping.DangerousRelease(); }
        Volatile.Read(ref _tracker)?.MarkDirty(offset, (ulong)data.Length);
    }

    /// <inheritdoc/>
    protected internal override void Release()
    {
        _mapping.Dispose();
        _memfd.Dispose();
    }
}
