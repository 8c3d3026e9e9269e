using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Umdev.DevicePlugin.Tests;

/// <summary>One node: a real <c>umdev serve</c> (FUSE tree and sockets), a <see cref="TestKubelet"/>, and the plugin in-process.</summary>
public sealed class Node : IAsyncDisposable
{
    public const string Mtty2 = "umdev.io/mtty-2";
    private CancellationTokenSource? _stop;
    private Task? _run;

    private Node(Daemon daemon, TestKubelet kubelet, string stateFile)
    {
        Daemon = daemon;
        Kubelet = kubelet;
        StateFile = stateFile;
    }

    public Daemon Daemon { get; private set; }
    public TestKubelet Kubelet { get; }
    public string StateFile { get; }
    public DevicePluginHost? Plugin { get; private set; }

    public DevicePluginSettings Settings => new()
    {
        Sysfs = Daemon.Dir,
        Sockets = Daemon.SocketDir,
        KubeletDir = Kubelet.Root,
        StateFile = StateFile,
        Poll = TimeSpan.FromMilliseconds(100),
        Reconcile = TimeSpan.FromDays(1), // tests reconcile when they mean to
        Grace = TimeSpan.Zero,
    };

    /// <summary>Daemon, kubelet, and the plugin registered with a first device list seen.</summary>
    public static async Task<Node> StartAsync()
    {
        var node = new Node(Daemon.Start(), await TestKubelet.StartAsync(), Path.Combine(Path.GetTempPath(), $"umdev-dp-{Guid.NewGuid()}.json"));
        await node.StartPluginAsync();
        return node;
    }

    public async Task StartPluginAsync(bool waitForCapacity = true, ILoggerFactory? loggers = null)
    {
        Plugin = new DevicePluginHost(Settings, loggers ?? NullLoggerFactory.Instance);
        _stop = new CancellationTokenSource();
        _run = Plugin.RunAsync(_stop.Token);
        if (waitForCapacity) await TestKubelet.WaitForAsync(() => Kubelet.Capacity(Mtty2) > 0, "mtty-2 registered with capacity");
    }

    public async Task StopPluginAsync()
    {
        _stop!.Cancel();
        await _run!;
        await Plugin!.DisposeAsync();
        Plugin = null;
    }

    private readonly List<Daemon> _killed = [];

    /// <summary>Kills the daemon (SIGKILL: nothing is cleaned up, its mount stops answering).</summary>
    public void KillDaemon() => Daemon.Kill();

    /// <summary>A new daemon where the killed one served: same mount point (it replaces the dead mount itself), same socket directory.</summary>
    public void RestartDaemon()
    {
        _killed.Add(Daemon);
        Daemon = Daemon.StartOn(Daemon.Dir, Daemon.SocketDir);
    }

    public string DevicePath(Guid uuid) => Path.Combine(Daemon.Dir, "bus", "mdev", "devices", uuid.ToString());

    public int AvailableMtty2() => int.Parse(File.ReadAllText(Path.Combine(Daemon.Dir, "class/mdev_bus/mtty/mdev_supported_types/mtty-2/available_instances")));

    public async ValueTask DisposeAsync()
    {
        if (Plugin is not null) await StopPluginAsync();
        await Kubelet.DisposeAsync();
        Daemon.Dispose();
        foreach (var killed in _killed) killed.Dispose();
        File.Delete(StateFile);
    }
}
