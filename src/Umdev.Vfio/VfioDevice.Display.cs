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
    /// A copy of the bytes of <paramref name="plane"/> (a plane <see cref="QueryGfxPlane"/> gave) in a fresh
    /// memfd sealed against every change (write, shrink, grow, more seals), offset 0 being the plane's first
    /// byte, opened read-only; the caller owns it. Whoever it is handed to can look but never draw: not even a
    /// read-write reopen through <c>/proc/self/fd</c> can change it, and it shares nothing with the device.
    /// EINVAL for a plane outside a memory region, ENODEV once the device is unregistered.
    /// </summary>
    public FileDescriptorHandle SnapshotPlane(in VfioGfxPlane plane)
    {
        var region = plane.RegionIndex < (uint)_regions.Length ? _regions[plane.RegionIndex] as VfioMemoryRegion : null;
        if (region is null || plane.Size == 0 || plane.Size > int.MaxValue || plane.Offset > region.Size || plane.Size > region.Size - plane.Offset)
            return ThrowHelper.Throw<FileDescriptorHandle>(Errno.EINVAL, "not a plane inside a memory region");
        try
        {
            return region.Snapshot(plane.Offset, (int)plane.Size, "umdev-plane");
        }
        catch (ObjectDisposedException)
        {
            return ThrowHelper.Throw<FileDescriptorHandle>(Errno.ENODEV, $"{Name} was removed");
        }
    }
}
