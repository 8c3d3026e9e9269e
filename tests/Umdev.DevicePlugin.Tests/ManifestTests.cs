using k8s;
using k8s.Models;
using Umdev.Cli;

namespace Umdev.DevicePlugin.Tests;

/// <summary>deploy/kubernetes parsed with the Kubernetes client's models, strictly: a misspelt field fails here, not on a cluster.</summary>
public sealed class ManifestTests
{
    private static readonly string Folder = Path.Combine(RepositoryTools.Find()!.Root, "deploy", "kubernetes");

    private static List<object> Load(string file) => KubernetesYaml.LoadAllFromString(File.ReadAllText(Path.Combine(Folder, file)), strict: true);

    private static V1DaemonSet DaemonSet() => Assert.IsType<V1DaemonSet>(Assert.Single(Load("daemonset.yaml")));

    [Fact]
    public void Every_manifest_parses_as_Kubernetes_objects()
    {
        var files = Directory.GetFiles(Folder, "*.yaml");
        Assert.NotEmpty(files);
        foreach (string file in files)
            Assert.All(Load(Path.GetFileName(file)), o => Assert.IsAssignableFrom<IKubernetesObject>(o));
    }

    [Fact]
    public void Both_containers_run_the_image_tools_package_builds_for_this_version()
    {
        // build-image.sh names it umdev:<Version of src/Directory.Build.props>; podman load gives it that name.
        string props = Path.Combine(RepositoryTools.Find()!.Root, "src", "Directory.Build.props");
        string version = System.Xml.Linq.XDocument.Load(props).Descendants("Version").Single().Value;
        var containers = DaemonSet().Spec.Template.Spec.Containers;
        Assert.Equal(2, containers.Count);
        Assert.All(containers, c => Assert.Equal($"umdev:{version}", c.Image));
    }

    [Fact]
    public void A_misspelt_field_is_an_error()
    {
        string text = File.ReadAllText(Path.Combine(Folder, "daemonset.yaml")).Replace("mountPropagation:", "mountPropogation:");
        Assert.ThrowsAny<Exception>(() => KubernetesYaml.LoadAllFromString(text, strict: true));
    }

    [Fact]
    public void The_daemon_set_runs_serve_privileged_with_fuse_and_bidirectional_propagation()
    {
        var ds = DaemonSet();
        var pod = ds.Spec.Template.Spec;
        Assert.Equal(ds.Spec.Selector.MatchLabels, ds.Spec.Template.Metadata.Labels);
        var serve = pod.Containers.Single(c => c.Command.Contains("serve"));
        Assert.True(serve.SecurityContext.Privileged);
        Assert.Contains(serve.VolumeMounts, m => m.MountPath == "/dev/fuse" && HostPath(pod, m.Name) is { Path: "/dev/fuse", Type: "CharDevice" });
        var tree = serve.VolumeMounts.Single(m => m.MountPath == "/run/umdev");
        Assert.Equal("Bidirectional", tree.MountPropagation);
        var plugin = pod.Containers.Single(c => c.Command.Contains("device-plugin"));
        Assert.Equal("HostToContainer", plugin.VolumeMounts.Single(m => m.Name == tree.Name).MountPropagation);
    }

    [Fact]
    public void The_plugin_sees_host_paths_where_the_host_has_them()
    {
        var pod = DaemonSet().Spec.Template.Spec;
        var plugin = pod.Containers.Single(c => c.Command.Contains("device-plugin"));
        // Allocate hands kubelet host paths as the plugin sees them: every hostPath is mounted at its own path.
        foreach (var container in pod.Containers)
            foreach (var mount in container.VolumeMounts)
                Assert.Equal(HostPath(pod, mount.Name).Path, mount.MountPath);
        Assert.Contains(plugin.VolumeMounts, m => m.MountPath == "/var/lib/kubelet/device-plugins");
        Assert.Contains(plugin.VolumeMounts, m => m.MountPath == "/var/lib/kubelet/pod-resources");
        string Arg(V1Container c, string name) => c.Command[c.Command.IndexOf(name) + 1];
        var serve = pod.Containers.Single(c => c.Command.Contains("serve"));
        Assert.Equal(Arg(serve, "--sockets"), Arg(plugin, "--sockets"));
        Assert.StartsWith("/run/umdev/", Arg(plugin, "--sysfs"));
        Assert.StartsWith(Path.GetDirectoryName(Arg(plugin, "--state"))!, plugin.VolumeMounts.Single(m => m.Name == "state").MountPath);
    }

    [Fact]
    public void Every_container_has_resource_requests_and_a_readiness_probe()
    {
        foreach (var c in DaemonSet().Spec.Template.Spec.Containers)
        {
            Assert.True(c.Resources.Requests.ContainsKey("cpu") && c.Resources.Requests.ContainsKey("memory"), c.Name);
            Assert.NotNull(c.ReadinessProbe?.Exec);
        }
    }

    [Fact]
    public void The_example_pod_asks_for_one_mtty_2()
    {
        var pod = Assert.IsType<V1Pod>(Assert.Single(Load("example-pod.yaml")));
        Assert.Equal(new ResourceQuantity("1"), pod.Spec.Containers[0].Resources.Limits["umdev.io/mtty-2"]);
    }

    private static V1HostPathVolumeSource HostPath(V1PodSpec pod, string volume) => pod.Volumes.Single(v => v.Name == volume).HostPath;
}
