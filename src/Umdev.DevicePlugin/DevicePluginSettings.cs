namespace Umdev.DevicePlugin;

/// <summary>Where the plugin finds the daemon and kubelet, and how often it looks.</summary>
public sealed record DevicePluginSettings
{
    /// <summary>The mounted tree of <c>umdev serve</c>.</summary>
    public required string Sysfs { get; init; }

    /// <summary>The daemon's socket directory; every device socket Allocate hands out must lie under it.</summary>
    public required string Sockets { get; init; }

    /// <summary>kubelet's root (<c>device-plugins/</c> and <c>pod-resources/</c> are under it).</summary>
    public string KubeletDir { get; init; } = "/var/lib/kubelet";

    /// <summary>The domain of the resource names: <c>&lt;prefix&gt;/&lt;type&gt;</c>.</summary>
    public string ResourcePrefix { get; init; } = "umdev.io";

    /// <summary>The slot → UUID state file.</summary>
    public string StateFile { get; init; } = "/var/lib/umdev/device-plugin.json";

    /// <summary>How often the tree, the sockets and kubelet's socket are looked at.</summary>
    public TimeSpan Poll { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the PodResources API is asked which slots pods hold; the devices of the others are removed.</summary>
    public TimeSpan Reconcile { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a fresh allocation is safe from the reconcile (kubelet records it only after Allocate returns).</summary>
    public TimeSpan Grace { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>kubelet's device-plugins folder.</summary>
    public string DevicePluginDir => Path.Combine(KubeletDir, "device-plugins");

    /// <summary>kubelet's Registration socket.</summary>
    public string KubeletSocket => Path.Combine(DevicePluginDir, "kubelet.sock");

    /// <summary>kubelet's PodResources socket.</summary>
    public string PodResourcesSocket => Path.Combine(KubeletDir, "pod-resources", "kubelet.sock");
}
