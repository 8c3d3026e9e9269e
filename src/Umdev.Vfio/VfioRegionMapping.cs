using Umdev.Interop;

namespace Umdev.Vfio;

/// <summary>What a VMM does with a mappable region, for any client (in process or over vfio-user).</summary>
public static class VfioRegionMapping
{
    /// <summary>Room for a region info with a few sparse areas.</summary>
    private const uint InfoArgsz = 4096;

    /// <summary>
    /// Maps <paramref name="length"/> bytes of region <paramref name="index"/> at in-region
    /// <paramref name="offset"/> from the descriptor its info carries, shared and writable when the region
    /// is. EINVAL when the region is not mappable there (no MMAP flag, or outside every sparse area).
    /// </summary>
    public static MemoryMapping MapRegion(this IVfioClientDevice device, uint index, ulong offset, ulong length)
    {
        var info = device.GetRegionInfo(index, InfoArgsz);
        using var owned = info.MmapHandle; // the caller's copy of the descriptor; the mapping outlives it
        var fd = info.MmapHandle;
        if ((info.Flags & VfioRegionFlags.Mmap) == 0 || fd is null || fd.IsInvalid)
            ThrowHelper.Throw(Errno.EINVAL, $"region {index} cannot be mapped");
        if (length == 0 || offset > info.Size || length > info.Size - offset)
            ThrowHelper.Throw(Errno.EINVAL, $"range outside region {index}");
        var sparse = info.Capabilities.OfType<VfioSparseMmapCapability>().FirstOrDefault();
        if (sparse is not null && !sparse.Areas.Any(a => offset >= a.Offset && offset - a.Offset <= a.Size && length <= a.Size - (offset - a.Offset)))
            ThrowHelper.Throw(Errno.EINVAL, $"range of region {index} is not in a mappable area");
        return MemoryMapping.Map(fd, info.Offset + offset, length, (info.Flags & VfioRegionFlags.Write) != 0);
    }
}
