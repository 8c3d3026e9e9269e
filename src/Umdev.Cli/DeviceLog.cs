using Microsoft.Extensions.Logging;
using Umdev.Core;

namespace Umdev.Cli;

/// <summary>Logs the daemon's device life cycle, as the kernel's mdev core logs creations and removals.</summary>
public sealed class DeviceLog(ILogger logger) : IMdevObserver
{
    public void OnDeviceAdded(MdevDevice mdev) =>
        logger.LogInformation("created {Device} ({Type} on {Parent}, IOMMU group {Group})", mdev.Name, mdev.Type.Id, mdev.Parent.Name, mdev.IommuGroup);

    public void OnDeviceRemoveCancelled(MdevDevice mdev) => logger.LogInformation("removal of {Device} refused; it stays", mdev.Name);

    public void OnDeviceRemoved(MdevDevice mdev) => logger.LogInformation("removed {Device}", mdev.Name);

    public void OnParentRegistered(MdevParent parent) =>
        logger.LogInformation("parent {Parent} registered with types {Types}", parent.Name, string.Join(", ", parent.Types.Select(t => t.Id)));
}
