using Umdev.Core;

namespace Umdev.Devices.VirtioBlk;

/// <summary>virtio-blk as a plug-in of the daemon: <c>--parent virtio[:disks=N][,disk-dirs=DIR[:DIR...]]</c>.</summary>
public sealed class VirtioParentPlugin : IMdevParentPlugin
{
    /// <summary>How many disks the parent offers.</summary>
    public const string DisksOption = "disks";

    /// <summary>The directories backing files may come from, colon-separated.</summary>
    public const string DiskDirsOption = "disk-dirs";

    /// <inheritdoc/>
    public string Name => "virtio";

    /// <inheritdoc/>
    public string Description => "virtio-blk disks over the modern virtio-pci transport, each backed by a host file (type virtio-blk)";

    /// <inheritdoc/>
    public IReadOnlyList<MdevParentOptionSpec> Options { get; } =
    [
        new(DisksOption, MdevParentOptionKind.Int, "16", "how many virtio-blk devices the parent can hold") { Min = 0 },
        new(DiskDirsOption, MdevParentOptionKind.String, VirtioBlkDriver.DefaultDiskDirs,
            "the directories (absolute, colon-separated) a disk's backing file may come from; elsewhere is refused (EACCES)"),
    ];

    /// <inheritdoc/>
    public MdevParent Register(MdevCore core, MdevParentOptions options)
    {
        var driver = new VirtioBlkDriver(options.GetInt(DisksOption), ParseDiskDirs(options.GetString(DiskDirsOption)));
        return core.RegisterParent(driver.ParentSpec, driver);
    }

    /// <inheritdoc/>
    public void Unregister(MdevCore core, MdevParent parent)
    {
        core.UnregisterParent(parent);
        core.UnregisterDriver(parent.Driver);
    }

    private string[] ParseDiskDirs(string value)
    {
        string[] dirs = value.Split(':', StringSplitOptions.RemoveEmptyEntries);
        if (dirs.Length == 0) throw new MdevParentOptionException($"parent {Name}: option {DiskDirsOption}: no directory given");
        foreach (string dir in dirs)
        {
            if (!dir.StartsWith('/'))
                throw new MdevParentOptionException($"parent {Name}: option {DiskDirsOption}: '{dir}' is not an absolute path");
            if (dir.Split('/').Any(p => p is "." or ".."))
                throw new MdevParentOptionException($"parent {Name}: option {DiskDirsOption}: '{dir}' has a '.' or '..' component");
        }
        return dirs;
    }
}
