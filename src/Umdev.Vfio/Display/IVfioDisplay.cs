namespace Umdev.Vfio;

/// <summary>
/// Implemented, next to <see cref="IVfioDeviceOps"/>, by a device with a display (the kernel's
/// <c>VFIO_DEVICE_QUERY_GFX_PLANE</c> for a region plane). The model answers the query through
/// <see cref="VfioDevice.QueryGfxPlane"/> and checks that the plane lies inside a mappable region, so
/// hosts can show the screen (<c>umdev screenshot</c>) without knowing the device.
/// </summary>
public interface IVfioDisplay
{
    /// <summary>
    /// The primary plane as the device's registers describe it now, or <see cref="VfioGfxPlane.None"/>
    /// when the display is off or the mode is not valid. Called from any thread.
    /// </summary>
    VfioGfxPlane QueryPrimaryPlane();
}
