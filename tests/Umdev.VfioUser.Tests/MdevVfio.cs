using Umdev.Core;
using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.VfioUser.Tests;

/// <summary>The VFIO device an mdev driver registered for a device, as the tests reach it.</summary>
internal static class MdevVfio
{
    public static VfioDevice Vfio(this MdevDevice mdev) => (VfioDevice)mdev.DriverData!;

    /// <summary>Opens a device by name (ENODEV when no such device or it is not a VFIO device).</summary>
    public static VfioDeviceFile OpenVfio(this MdevCore core, string name) =>
        (core.FindDevice(name)?.DriverData as VfioDevice ?? ThrowHelper.Throw<VfioDevice>(Errno.ENODEV, $"no VFIO device {name}")).Open();
}
