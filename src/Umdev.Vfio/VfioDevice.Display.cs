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
    /// The memory of the region holding <paramref name="plane"/> (a plane <see cref="QueryGfxPlane"/> gave):
    /// a read-only descriptor the caller owns, so whoever it is handed to can look but never draw. ENODEV once
    /// the device is unregistered.
    /// </summary>
    public FileDescriptorHandle OpenPlaneMemory(in VfioGfxPlane plane)
    {
        if (_regions[plane.RegionIndex] is not VfioMemoryRegion region) return ThrowHelper.Throw<FileDescriptorHandle>(Errno.EINVAL, "not a memory region");
        try
        {
            return region.MemoryHandle.ReopenReadOnly();
        }
        catch (ObjectDisposedException)
        {
            return ThrowHelper.Throw<FileDescriptorHandle>(Errno.ENODEV, $"{Name} was removed");
        }
    }
}
