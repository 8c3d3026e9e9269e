using Umdev.Interop;
using Umdev.Vfio.Migration;

namespace Umdev.Vfio;

/// <summary>
/// A region backed by memory a VMM may map (a BAR holding a framebuffer, a buffer ring): a memfd the
/// driver reads and writes through <see cref="Access"/>, passed to clients with GET_REGION_INFO so their
/// accesses need no message. Accesses that do come as reads and writes are served from the same memory.
/// Only the <see cref="SparseAreas"/> may be mapped when any are given; the rest stays emulated. The memfd is
/// sealed against resizing (and further sealing), so nothing a client does with it can fault the driver.
/// Nor can the unmap at unregistration fault it: it waits for the end of the driver's accesses in progress
/// (deferred, not blocking), and later ones are refused with ENODEV.
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
    /// Begins the driver's access to <paramref name="length"/> bytes at <paramref name="offset"/> (EINVAL
    /// outside the region): <see cref="VfioMemoryAccess.Span"/> is valid until the access is disposed, and
    /// the memory stays mapped until then even if the device is unregistered meanwhile. ENODEV once the
    /// device is unregistered, so a driver's timer or worker that outlives its device gets an error, never
    /// a fault. Keep accesses short (a held access keeps the memory of a removed device). A VMM may write
    /// the same bytes concurrently.
    /// </summary>
    public VfioMemoryAccess Access(ulong offset, int length)
    {
        if (length < 0 || offset > Size || (ulong)length > Size - offset)
            ThrowHelper.Throw(Errno.EINVAL, "range outside the region");
        return new VfioMemoryAccess(Lease(), offset, length);
    }

    // The region's one way to its memory: a lease on the mapping, refused with ENODEV once released.
    private MemoryMappingAccess Lease()
    {
        try
        {
            return _mapping.Access();
        }
        catch (ObjectDisposedException)
        {
            throw new ErrnoException(Errno.ENODEV, "region memory released (device unregistered)");
        }
    }

    // Only a check (the span outlives the lease): the tracker's reads run in a migration session, under
    // its lock, and the model ends every session (VfioMigration.Shutdown) before it releases the memory.
    ReadOnlySpan<byte> IVfioTrackedMemory.GetSpan(ulong offset, int length)
    {
        using var access = Lease();
        return access.Span(offset, length);
    }

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
    /// bytes are the device's own, no copy. ENODEV once released.
    /// </summary>
    internal void Read<TState>(ulong offset, int length, TState state, System.Buffers.ReadOnlySpanAction<byte, TState> reader)
    {
        using var access = Lease();
        reader(access.Span(offset, length), state);
    }

    // A lease for the copy, so a removal racing an access cannot unmap under it.
    /// <inheritdoc/>
    protected internal override void Read(ulong offset, Span<byte> data)
    {
        using var access = Lease();
        access.Span(offset, data.Length).CopyTo(data);
    }

    /// <inheritdoc/>
    protected internal override void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        using (var access = Lease()) data.CopyTo(access.Span(offset, data.Length));
        Volatile.Read(ref _tracker)?.MarkDirty(offset, (ulong)data.Length);
    }

    /// <inheritdoc/>
    protected internal override void Release()
    {
        _mapping.Dispose();
        _memfd.Dispose();
    }
}
