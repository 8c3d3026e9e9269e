using System.Collections.Immutable;
using Umdev.Interop;

namespace Umdev.Vfio;

/// <summary>
/// A client's DMA mappings and the translation API vendor drivers use on them (the user-space form of
/// <c>vfio_pin_pages</c>/<c>vfio_unpin_pages</c>/<c>vfio_dma_rw</c>). Any byte outside the mappings, or
/// without the needed permission, is refused with EFAULT before anything is copied.
/// </summary>
public sealed class VfioDmaTable
{
    private readonly Lock _lock = new();
    private ImmutableArray<VfioDmaMapping> _mappings = [];
    private readonly IVfioDmaUnmapListener? _listener;
    private readonly int _maxMappings;

    public VfioDmaTable(IVfioDmaUnmapListener? listener = null, int maxMappings = 65535)
    {
        _listener = listener;
        _maxMappings = maxMappings;
    }

    public IReadOnlyList<VfioDmaMapping> Mappings => _mappings;

    /// <summary>The device's dirty log, told of every write into client memory (null: nothing logs).</summary>
    internal VfioDmaDirtyLog? DirtyLog { get; init; }

    /// <summary>
    /// Records a mapping; takes ownership of <paramref name="memory"/> (disposed on failure too).
    /// EINVAL for an empty or wrapping range, EEXIST when it overlaps an existing one, ENOSPC past the limit.
    /// </summary>
    public void Map(ulong iova, ulong size, VfioDmaProtection protection, VfioDmaMemory memory)
    {
        try
        {
            if (size == 0 || iova + (size - 1) < iova) ThrowHelper.Throw(Errno.EINVAL, "bad DMA range");
            var mapping = new VfioDmaMapping(iova, size, protection, memory);
            lock (_lock)
            {
                foreach (var m in _mappings)
                    if (m.Iova <= mapping.Last && mapping.Iova <= m.Last)
                        ThrowHelper.Throw(Errno.EEXIST, "DMA range overlaps a mapping");
                if (_mappings.Length >= _maxMappings) ThrowHelper.Throw(Errno.ENOSPC, "too many DMA mappings");
                _mappings = _mappings.Add(mapping);
            }
        }
        catch
        {
            memory.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Removes the mapping with exactly this range (ENOENT if none). As the kernel's type1 IOMMU does, the
    /// driver is told while the mapping still exists (so a copy-backed pin can still be written back); then
    /// the mapping is removed, remaining accesses are revoked and the memory released, all before returning.
    /// </summary>
    public void Unmap(ulong iova, ulong size)
    {
        VfioDmaMapping? found = null;
        lock (_lock)
        {
            foreach (var m in _mappings)
                if (m.Iova == iova && m.Size == size) found = m;
        }
        if (found is null) ThrowHelper.Throw(Errno.ENOENT, "no DMA mapping with this range");
        Release(found);
    }

    /// <summary>Removes every mapping (DMA_UNMAP with the ALL flag, or the client going away).</summary>
    public void UnmapAll()
    {
        var all = _mappings;
        foreach (var m in all) Notify(m);
        // One update for the lot (mappings added meanwhile stay).
        lock (_lock) _mappings = _mappings == all ? [] : _mappings.RemoveRange(all);
        foreach (var m in all) m.Revoke();
    }

    private void Release(VfioDmaMapping mapping)
    {
        Notify(mapping);
        lock (_lock) _mappings = _mappings.Remove(mapping);
        mapping.Revoke();
    }

    private void Notify(VfioDmaMapping mapping)
    {
        try
        {
            _listener?.DmaUnmap(mapping.Iova, mapping.Size);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The unmap happens regardless; a driver failing to let go only loses its pins.
        }
    }

    /// <summary>
    /// Pins [iova, iova+length) for <paramref name="direction"/>. Within one mapped mapping the pin gives
    /// direct access to client memory; otherwise it holds a copy (read at pin time, written back by
    /// <see cref="VfioDmaPin.Flush"/>/<see cref="VfioDmaPin.Dispose"/>). EINVAL when the driver cannot be told
    /// about unmaps (as the kernel requires <c>dma_unmap</c>), EFAULT for bytes outside the mappings.
    /// </summary>
    public VfioDmaPin Pin(ulong iova, int length, VfioDmaDirection direction)
    {
        if (_listener is null) ThrowHelper.Throw(Errno.EINVAL, "driver has no dma_unmap callback");
        if (length <= 0 || (direction & VfioDmaDirection.Bidirectional) == 0 || (direction & ~VfioDmaDirection.Bidirectional) != 0)
            ThrowHelper.Throw(Errno.EINVAL, "bad pin request");
        var pieces = Resolve(iova, (ulong)length, direction);
        VfioDmaPin pin;
        if (pieces.Length == 1 && pieces[0].Mapping.Memory.HasDirect())
            pin = new VfioDmaPin(this, iova, length, direction, pieces[0].Mapping);
        else
        {
            pin = new VfioDmaPin(this, iova, length, direction, null);
            if ((direction & VfioDmaDirection.ToDevice) != 0) Copy(pieces, pin.Buffer, null);
        }
        // A pin the device may write counts as written for as long as it lives (as type1 does).
        if ((direction & VfioDmaDirection.FromDevice) != 0) DirtyLog?.AddWritePin(pin);
        return pin;
    }

    /// <summary><c>vfio_dma_rw</c> read: copies client memory into <paramref name="destination"/>.</summary>
    public void Read(ulong iova, Span<byte> destination)
    {
        if (destination.IsEmpty) return;
        Copy(Resolve(iova, (ulong)destination.Length, VfioDmaDirection.ToDevice), destination, null);
    }

    /// <summary><c>vfio_dma_rw</c> write: copies <paramref name="source"/> into client memory.</summary>
    public void Write(ulong iova, ReadOnlySpan<byte> source)
    {
        if (source.IsEmpty) return;
        Copy(Resolve(iova, (ulong)source.Length, VfioDmaDirection.FromDevice), default, source);
        DirtyLog?.Record(iova, (ulong)source.Length);
    }

    /// <summary>
    /// Begins direct accesses to several ranges at once, for a vectored transfer (one <c>preadv</c> into
    /// client memory): each range must lie in one mapping that is mapped into this process, with the
    /// permission <paramref name="direction"/> needs, and its address is written to the same index of
    /// <paramref name="pointers"/>. Returns null, with nothing begun, when a range can only be reached by
    /// copies (use <see cref="Read"/>/<see cref="Write"/> then); EFAULT when a range is not mapped or lacks
    /// the permission. The memory stays mapped until the scope is disposed.
    /// </summary>
    public unsafe VfioDmaScope? BeginDirect(ReadOnlySpan<VfioDmaRange> ranges, VfioDmaDirection direction, Span<nint> pointers)
    {
        if (pointers.Length < ranges.Length) throw new ArgumentException("fewer pointers than ranges", nameof(pointers));
        var scope = new VfioDmaScope(ranges.Length, (direction & VfioDmaDirection.FromDevice) != 0 ? ranges.ToArray() : null, DirtyLog);
        try
        {
            for (int i = 0; i < ranges.Length; i++)
            {
                if (ranges[i].Length <= 0) ThrowHelper.Throw(Errno.EINVAL, "empty DMA range");
                var pieces = Resolve(ranges[i].Iova, (ulong)ranges[i].Length, direction);
                if (pieces.Length != 1 || !pieces[0].Mapping.Memory.HasDirect())
                {
                    scope.Dispose();
                    return null;
                }
                pieces[0].Mapping.BeginAccess();
                scope.Add(pieces[0].Mapping);
                pointers[i] = (nint)(pieces[0].Mapping.Memory.Direct + pieces[0].Offset);
            }
            return scope;
        }
        catch
        {
            scope.Dispose();
            throw;
        }
    }

    internal readonly record struct Piece(VfioDmaMapping Mapping, ulong Offset, int Length);

    /// <summary>Splits the range over the mappings, checking every byte is covered with the right permission.</summary>
    private Piece[] Resolve(ulong iova, ulong length, VfioDmaDirection direction)
    {
        if (iova + (length - 1) < iova) ThrowHelper.Throw(Errno.EFAULT, "DMA range wraps");
        var need = ((direction & VfioDmaDirection.ToDevice) != 0 ? VfioDmaProtection.Read : 0) |
                   ((direction & VfioDmaDirection.FromDevice) != 0 ? VfioDmaProtection.Write : 0);
        var mappings = _mappings;
        List<Piece>? pieces = null; // only for a range that spans mappings: one array in the usual case
        ulong at = iova, left = length;
        while (true)
        {
            VfioDmaMapping? m = null;
            foreach (var candidate in mappings)
                if (candidate.Contains(at)) { m = candidate; break; }
            if (m is null) ThrowHelper.Throw(Errno.EFAULT, $"IOVA 0x{at:x} is not mapped");
            if ((m.Protection & need) != need) ThrowHelper.Throw(Errno.EFAULT, $"IOVA 0x{at:x} lacks permission");
            ulong take = Math.Min(left, m.Last - at + 1);
            var piece = new Piece(m, at - m.Iova, (int)take);
            at += take;
            left -= take;
            if (pieces is null && left == 0) return [piece];
            (pieces ??= []).Add(piece);
            if (left == 0) return [.. pieces];
        }
    }

    private static void Copy(Piece[] pieces, Span<byte> into, ReadOnlySpan<byte> from)
    {
        int done = 0;
        foreach (var p in pieces)
        {
            bool direct = p.Mapping.Memory.HasDirect();
            if (direct) p.Mapping.BeginAccess();
            else p.Mapping.CheckLive();
            try
            {
                if (from.IsEmpty) p.Mapping.Memory.Read(p.Offset, into.Slice(done, p.Length));
                else p.Mapping.Memory.Write(p.Offset, from.Slice(done, p.Length));
            }
            finally
            {
                if (direct) p.Mapping.EndAccess();
            }
            done += p.Length;
        }
    }
}

internal static class VfioDmaMemoryExtensions
{
    public static unsafe bool HasDirect(this VfioDmaMemory memory) => memory.Direct != null;
}
