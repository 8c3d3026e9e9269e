using Umdev.Interop;
using Umdev.VfioUser.Protocol;

namespace Umdev.VfioUser.Server;

public sealed partial class VfioUserSession
{
    private const uint FeatureIndexMask = 0xFFFF, FeatureGet = 0x10000, FeatureSet = 0x20000, FeatureProbe = 0x40000;

    /// <summary>
    /// DEVICE_FEATURE. The request is checked as the kernel's dispatcher does (vfio-api §4.4); then, until
    /// the VFIO model offers device features (migration), every feature is ENOTSUP. This is the seam: route
    /// the validated request to the model's feature entry point here and return its reply length.
    /// </summary>
    private int DeviceFeature(ReadOnlySpan<byte> p, Span<byte> reply)
    {
        var f = DeviceFeaturePayload.Parse(p);
        if (f.Argsz < DeviceFeaturePayload.Length) ThrowHelper.Throw(Errno.EINVAL, "DEVICE_FEATURE argsz too small");
        if ((f.Flags & ~(FeatureIndexMask | FeatureGet | FeatureSet | FeatureProbe)) != 0)
            ThrowHelper.Throw(Errno.EINVAL, "DEVICE_FEATURE unknown flags");
        if ((f.Flags & (FeatureGet | FeatureSet)) == (FeatureGet | FeatureSet) && (f.Flags & FeatureProbe) == 0)
            ThrowHelper.Throw(Errno.EINVAL, "DEVICE_FEATURE GET and SET together");
        _ = reply;
        return ThrowHelper.Throw<int>(Errno.ENOTSUP, "device features are not available over vfio-user yet");
    }
}
