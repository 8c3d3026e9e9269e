using Umdev.Interop;

namespace Umdev.Vfio;

public sealed partial class VfioDevice
{
    /// <summary>True when the driver's ops have a display (<see cref="IVfioDisplay"/>).</summary>
    public bool HasDisplay => Ops is IVfioDisplay;

    /// <summary>
    /// VFIO_DEVICE_QUERY_GFX_PLANE for the primary plane: <see cref="VfioGfxPlane.None"/> when there is no
    /// valid framebuffer; ENOTTY for a device without a display (as the kernel for a driver without the
    /// ioctl), ENODEV once unregistered. A plane that is not wholly inside a mappable region of the device
    /// is a driver defect: EFAULT.
    /// </summary>
    public VfioGfxPlane QueryGfxPlane()
    {
        if (Ops is not IVfioDisplay display) return ThrowHelper.Throw<VfioGfxPlane>(Errno.ENOTTY, $"{Name} has no display");
        if (_unregistered) ThrowHelper.Throw(Errno.ENODEV, $"{Name} was removed");
        var plane = display.QueryPrimaryPlane();
        if (!plane.IsEnabled) return VfioGfxPlane.None;
        var region = plane.RegionIndex < (uint)_regions.Length ? _regions[plane.RegionIndex] as VfioMemoryRegion : null;
        if (region is null || plane.Width == 0 || plane.Height == 0 || plane.Offset > region.Size || plane.Size > region.Size - plane.Offset)
            ThrowHelper.Throw(Errno.EFAULT, $"{Name}: plane outside a mappable region");
        return plane;
    }

    /// <summary>
    /// Calls <paramref name="reader"/> with the bytes of <paramref name="plane"/> (a plane
    /// <see cref="QueryGfxPlane"/> gave; stride × height from its offset) as they are in video memory, read-only
    /// and without a copy, the memory kept mapped until it returns, so a removal meanwhile cannot unmap it
    /// under the reader. The guest may draw while it reads: a frame can tear, as on a real scanout.
    /// EINVAL for a plane outside a memory region, ENODEV once the device is unregistered.
    /// </summary>
    public void ReadPlane<TState>(in VfioGfxPlane plane, TState state, System.Buffers.ReadOnlySpanAction<byte, TState> reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var region = plane.RegionIndex < (uint)_regions.Length ? _regions[plane.RegionIndex] as VfioMemoryRegion : null;
        if (region is null || plane.Size == 0 || plane.Size > int.MaxValue || plane.Offset > region.Size || plane.Size > region.Size - plane.Offset)
            ThrowHelper.Throw(Errno.EINVAL, "not a plane inside a memory region");
        region.Read(plane.Offset, (int)plane.Size, state, reader); // ENODEV once the memory is released
    }
}
