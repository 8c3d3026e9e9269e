using System.CommandLine;
using System.Runtime.InteropServices;
using Umdev.DevicePlugin;

namespace Umdev.Cli;

/// <summary>
/// <c>umdev device-plugin</c>: the kubelet device plugin beside <c>umdev serve</c> on a node. It drives the
/// daemon only through its mounted tree and socket directory (docs/kubernetes.md); runs until SIGTERM/SIGINT.
/// </summary>
public static class DevicePluginCommand
{
    public static Command Create()
    {
        var defaults = new DevicePluginSettings { Sysfs = ServeCommand.DefaultSysfs, Sockets = ServeCommand.DefaultSockets };
        var sysfs = new Option<string>("--sysfs") { Description = "The mounted tree of umdev serve", DefaultValueFactory = _ => defaults.Sysfs };
        var sockets = new Option<string>("--sockets") { Description = "The daemon's socket directory (host path)", DefaultValueFactory = _ => defaults.Sockets };
        var kubeletDir = new Option<string>("--kubelet-dir") { Description = "kubelet's root, holding device-plugins/ and pod-resources/", DefaultValueFactory = _ => defaults.KubeletDir };
        var prefix = new Option<string>("--resource-prefix") { Description = "Domain of the resource names (<prefix>/<mdev type>)", DefaultValueFactory = _ => defaults.ResourcePrefix };
        var state = new Option<string>("--state") { Description = "The slot → UUID state file", DefaultValueFactory = _ => defaults.StateFile };
        var poll = new Option<double>("--poll") { Description = "Seconds between looks at the tree, the sockets and kubelet", DefaultValueFactory = _ => defaults.Poll.TotalSeconds };
        var reconcile = new Option<double>("--reconcile") { Description = "Seconds between PodResources reconciles (devices of slots no pod holds are removed)", DefaultValueFactory = _ => defaults.Reconcile.TotalSeconds };
        var grace = new Option<double>("--grace") { Description = "Seconds a fresh allocation is safe from the reconcile", DefaultValueFactory = _ => defaults.Grace.TotalSeconds };
        var command = new Command("device-plugin", "Offer each mdev type of a running umdev serve to kubelet as <prefix>/<type>")
        {
            sysfs, sockets, kubeletDir, prefix, state, poll, reconcile, grace,
        };
        command.SetAction(r => Run(new DevicePluginSettings
        {
            Sysfs = r.GetValue(sysfs)!,
            Sockets = r.GetValue(sockets)!,
            KubeletDir = r.GetValue(kubeletDir)!,
            ResourcePrefix = r.GetValue(prefix)!,
            StateFile = r.GetValue(state)!,
            Poll = TimeSpan.FromSeconds(r.GetValue(poll)),
            Reconcile = TimeSpan.FromSeconds(r.GetValue(reconcile)),
            Grace = TimeSpan.FromSeconds(r.GetValue(grace)),
        }, Console.Error));
        return command;
    }

    public static int Run(DevicePluginSettings settings, TextWriter stderr)
    {
        if (settings.Poll <= TimeSpan.Zero || settings.Reconcile <= TimeSpan.Zero || settings.Grace < TimeSpan.Zero)
        {
            stderr.WriteLine("umdev device-plugin: --poll and --reconcile must be positive, --grace not negative");
            return 2;
        }
        using var loggers = ServeLogging.CreateFactory();
        using var stop = new CancellationTokenSource();
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true; // we exit ourselves, after closing the plugin sockets
            stop.Cancel();
        }
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        try
        {
            Directory.CreateDirectory(settings.DevicePluginDir);
            var host = new DevicePluginHost(settings, loggers);
            try { host.RunAsync(stop.Token).GetAwaiter().GetResult(); }
            finally { host.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or System.Text.Json.JsonException)
        {
            stderr.WriteLine($"umdev device-plugin: {e.Message}");
            return 1;
        }
    }
}
