namespace Umdev.Vfio;

/// <summary>
/// A display plane as VFIO_DEVICE_QUERY_GFX_PLANE describes a region plane: the pixels lie in the
/// mappable region <see cref="RegionIndex"/>, <see cref="Height"/> rows of <see cref="Stride"/> bytes from
/// <see cref="Offset"/>. The kernel's <c>vfio_device_gfx_plane_info</c> has no offset field (a consumer
/// maps the region from its start); the model carries the in-region offset so panning needs no copy.
/// The default value (format 0) is the kernel's answer for "no valid framebuffer".
/// </summary>
/// <param name="DrmFormat">The DRM fourcc, e.g. <see cref="DrmFormatXrgb8888"/>; 0 when there is no plane.</param>
/// <param name="Width">Pixels per row shown.</param>
/// <param name="Height">Rows shown.</param>
/// <param name="Stride">Bytes from one row to the next.</param>
/// <param name="RegionIndex">The memory region holding the pixels.</param>
/// <param name="Offset">In-region offset of the first pixel.</param>
public readonly record struct VfioGfxPlane(uint DrmFormat, uint Width, uint Height, uint Stride, uint RegionIndex, ulong Offset)
{
    /// <summary><c>DRM_FORMAT_XRGB8888</c> ('XR24'): 32 bits per pixel, bytes B, G, R, unused.</summary>
    public const uint DrmFormatXrgb8888 = 0x34325258;

    /// <summary>No valid framebuffer (display disabled or mode invalid).</summary>
    public static VfioGfxPlane None => default;

    /// <summary>True when the plane shows something (a format is set).</summary>
    public bool IsEnabled => DrmFormat != 0;

    /// <summary>Bytes the plane spans in its region: <see cref="Stride"/> × <see cref="Height"/>.</summary>
    public ulong Size => (ulong)Stride * Height;
}
