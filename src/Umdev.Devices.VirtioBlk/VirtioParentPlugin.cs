using Umdev.Core;

namespace Umdev.Devices.VirtioBlk;

/// <summary>virtio-blk as a plug-in of the daemon: <c>--parent virtio[:disks=N]</c>.</summary>
public sealed class VirtioParentPlugin : IMdevParentPlugin
{
    /// <summary>How many disks the parent offers.</summary>
    public const string DisksOption = "disks";

    /// <inheritdoc/>
    public string Name => "virtio";

    /// <inheritdoc/>
    public string Description => "virtio-blk disks over the modern virtio-pci transport, each backed by a host file (type virtio-blk)";

    /// <inheritdoc/>
    public IReadOnlyList<MdevParentOptionSpec> Options { get; } =
    [
        new(DisksOption, MdevParentOptionKind.Int, "16", "how many virtio-blk devices the parent can hold") { Min = 0 },
    ];

    /// <inheritdoc/>
    public MdevParent Register(MdevCore core, MdevParentOptions options)
    {
        var driver = new VirtioBlkDriver(options.GetInt(DisksOption));
        return core.RegisterParent(driver.ParentSpec, driver);
    }

    /// <inheritdoc/>
    public void Unregister(MdevCore core, MdevParent parent)
    {
        core.UnregisterParent(parent);
        core.UnregisterDriver(parent.Driver);
    }
}
