using System.Diagnostics;
using static Umdev.DevicePlugin.Tests.Node;

namespace Umdev.DevicePlugin.Tests;

/// <summary><c>umdev device-plugin</c> as a process beside a real <c>umdev serve</c>: the CLI contract.</summary>
public sealed class DevicePluginCommandTests
{
    private static Process StartPlugin(Daemon daemon, TestKubelet kubelet, string state, params string[] extra)
    {
        return Process.Start(Daemon.StartInfo(["device-plugin", "--sysfs", daemon.Dir, "--sockets", daemon.SocketDir,
            "--kubelet-dir", kubelet.Root, "--state", state, "--poll", "0.2", .. extra]))!;
    }

    private static void Stop(Process plugin)
    {
        Shell.Run("/bin/kill", "-TERM", plugin.Id.ToString()).AssertSuccess();
        Assert.True(plugin.WaitForExit(TimeSpan.FromSeconds(60)), "device-plugin did not exit on SIGTERM");
        Assert.Equal(0, plugin.ExitCode);
    }

    [Fact]
    public async Task The_command_registers_serves_and_on_restart_keeps_what_it_allocated()
    {
        using var daemon = Daemon.Start();
        await using var kubelet = await TestKubelet.StartAsync();
        string state = Path.Combine(kubelet.Root, "state", "device-plugin.json");
        using (var plugin = StartPlugin(daemon, kubelet, state))
        {
            await TestKubelet.WaitForAsync(() => kubelet.Capacity(Mtty2) > 0, "registered", 120);
            await kubelet.AdmitAsync("pod-a", Mtty2);
            var first = kubelet.Find(Mtty2)!;
            Stop(plugin);
            await TestKubelet.WaitForAsync(() => first.Ended, "ListAndWatch ended with the plugin");
        }
        string uuid = File.ReadAllText(state);
        using (var plugin = StartPlugin(daemon, kubelet, state, "--reconcile", "0.5", "--grace", "0"))
        {
            await TestKubelet.WaitForAsync(() => kubelet.Registrations[Mtty2] == 2 && kubelet.Capacity(Mtty2) > 0, "registered again", 120);
            await Task.Delay(TimeSpan.FromSeconds(1.5)); // a few reconciles: pod-a still holds its slot
            Assert.Equal(uuid, File.ReadAllText(state));
            kubelet.DeletePod("pod-a");
            await TestKubelet.WaitForAsync(() => File.ReadAllText(state).Trim() == "{}", "pod-a's device freed by the reconcile");
            Stop(plugin);
        }
        Assert.Empty(Directory.GetDirectories(Path.Combine(daemon.Dir, "bus/mdev/devices")));
    }

    [Fact]
    public void Bad_intervals_are_a_usage_error()
    {
        var r = Daemon.Run("device-plugin", "--poll", "0");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--poll and --reconcile must be positive", r.Stderr);
    }
}
