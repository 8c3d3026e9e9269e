using Microsoft.Extensions.Logging;
using Umdev.Core;

namespace Umdev.Cli;

/// <summary>Logs the daemon's device life cycle, as the kernel's mdev core logs creations and removals.</summary>
public sealed class DeviceLog(ILogger logger) : IMdevObserver
{
    public const string Category = "umdev.mdev";
    public static readonly EventId ParentRegistered = new(201, nameof(ParentRegistered));
    public static readonly EventId DeviceCreated = new(202, nameof(DeviceCreated));
    public static readonly EventId DeviceRemoved = new(203, nameof(DeviceRemoved));

    public static readonly EventId DeviceRemoveCancelled = new(204, nameof(DeviceRemoveCancelled));

    public void OnDeviceAdded(MdevDevice mdev) =>
        logger.LogInformation(DeviceCreated, "created {Device} ({Type} on {Parent}, IOMMU group {Group})", mdev.Name, mdev.Type.Id, mdev.Parent.Name, mdev.IommuGroup);

    public void OnDeviceRemoveCancelled(MdevDevice mdev) => logger.LogInformation(DeviceRemoveCancelled, "removal of {Device} refused; it stays", mdev.Name);

    public void OnDeviceRemoved(MdevDevice mdev) => logger.LogInformation(DeviceRemoved, "removed {Device}", mdev.Name);

    public void OnParentRegistered(MdevParent parent) =>
        logger.LogInformation(ParentRegistered, "parent {Parent} registered with types {Types}", parent.Name, string.Join(", ", parent.Types.Select(t => t.Id)));
}
