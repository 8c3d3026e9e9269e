using Grpc.Core;
using Umdev.Vfio;
using Umdev.VfioUser.Client;
using Dp = Umdev.DevicePlugin.Api.V1Beta1;
using static Umdev.DevicePlugin.Tests.Node;

namespace Umdev.DevicePlugin.Tests;

/// <summary>The plugin against a real daemon and a kubelet that keeps kubelet's rules: what kubelet's own e2e tests check.</summary>
public sealed class DevicePluginTests
{
    private static Guid UuidOf(Dp.ContainerAllocateResponse r) => Guid.Parse(r.Envs["UMDEV_MTTY_2_UUIDS"]);

    [Fact]
    public async Task Each_type_registers_with_capacity_equal_to_the_devices_advertised()
    {
        await using var node = await Node.StartAsync();
        var plugin = node.Kubelet.Find(Mtty2)!;
        Assert.Empty(node.Kubelet.Refused);
        Assert.Equal(node.AvailableMtty2(), node.Kubelet.Capacity(Mtty2));
        Assert.Equal(plugin.Devices.Count, node.Kubelet.Capacity(Mtty2));
        Assert.All(plugin.Devices, d => Assert.Matches("^mtty-[0-9]+$", d.ID));
        await TestKubelet.WaitForAsync(() => node.Kubelet.Capacity("umdev.io/mtty-1") > 0, "mtty-1 registered too");
    }

    [Fact]
    public async Task The_plugin_sockets_are_0600()
    {
        await using var node = await Node.StartAsync();
        string socket = Path.Combine(node.Kubelet.DevicePluginDir, node.Kubelet.Find(Mtty2)!.Endpoint);
#pragma warning disable CA1416 // Linux only
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(socket));
#pragma warning restore CA1416
    }

    [Fact]
    public async Task A_state_entry_beyond_the_types_capacity_is_ignored_with_a_warning()
    {
        await using var node = await Node.StartAsync();
        await node.StopPluginAsync();
        await TestKubelet.WaitForAsync(() => node.Kubelet.Find(Mtty2)!.Ended, "kubelet sees the stream end");
        Assert.Equal(12, node.AvailableMtty2()); // 24 ports, 2 each: slots mtty-0 … mtty-11
        Guid last = Guid.NewGuid(), beyond = Guid.NewGuid();
        File.WriteAllText(node.StateFile, $$"""{ "{{Mtty2}}": { "mtty-11": "{{last}}", "mtty-12": "{{beyond}}" } }""");
        var log = new Umdev.VfioUser.Tests.ListLogger();
        await node.StartPluginAsync(loggers: log);
        await TestKubelet.WaitForAsync(() => node.Kubelet.Registrations[Mtty2] == 2
            && node.Kubelet.Find(Mtty2)!.Devices.Any(d => d.ID == "mtty-11" && d.Health == "Healthy"), "the last slot restored");
        Assert.True(Directory.Exists(node.DevicePath(last)), "an entry within capacity is made again");
        Assert.False(Directory.Exists(node.DevicePath(beyond)), "an entry beyond capacity is never created");
        Assert.DoesNotContain(node.Kubelet.Find(Mtty2)!.Devices, d => d.ID == "mtty-12");
        Assert.Equal(12, node.Kubelet.Capacity(Mtty2));
        Assert.Single(log.Lines, l => l.Contains($"state entry mtty-12 ({beyond}) is beyond the type's capacity on mtty; ignored", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Allocate_creates_a_device_and_hands_out_its_socket_folder()
    {
        await using var node = await Node.StartAsync();
        var response = await node.Kubelet.AdmitAsync("pod-a", Mtty2);
        var uuid = UuidOf(response);
        Assert.True(Directory.Exists(node.DevicePath(uuid)));
        var mount = Assert.Single(response.Mounts);
        Assert.Equal(Path.Combine(node.Daemon.SocketDir, uuid.ToString()), mount.HostPath);
        Assert.Equal("/run/umdev/mtty-2/0", mount.ContainerPath);
        Assert.False(mount.ReadOnly);
        Assert.Equal("/run/umdev/mtty-2/0/vfio-user.sock", response.Envs["UMDEV_MTTY_2_SOCKETS"]);
        Assert.Contains(uuid.ToString(), File.ReadAllText(node.StateFile));
        Assert.Contains(node.Kubelet.HeldBy("pod-a")[0], File.ReadAllText(node.StateFile));
    }

    [Fact]
    public async Task A_held_slot_whose_socket_goes_away_turns_Unhealthy_alone()
    {
        await using var node = await Node.StartAsync();
        var response = await node.Kubelet.AdmitAsync("pod-a", Mtty2);
        string slot = node.Kubelet.HeldBy("pod-a")[0];
        var plugin = node.Kubelet.Find(Mtty2)!;
        File.Delete(Path.Combine(response.Mounts[0].HostPath, "vfio-user.sock"));
        await TestKubelet.WaitForAsync(() => plugin.Devices.Single(d => d.ID == slot).Health == "Unhealthy", "the slot Unhealthy");
        Assert.All(plugin.Devices.Where(d => d.ID != slot), d => Assert.Equal("Healthy", d.Health));
    }

    [Fact]
    public async Task A_client_connects_through_the_mounted_folder_and_reads_the_device()
    {
        await using var node = await Node.StartAsync();
        var response = await node.Kubelet.AdmitAsync("pod-a", Mtty2);
        var mount = response.Mounts[0];
        using var container = new ContainerMount(mount.HostPath);
        string socket = Path.Combine(container.Path, Path.GetRelativePath(mount.ContainerPath, response.Envs["UMDEV_MTTY_2_SOCKETS"]));
        using var client = VfioUserClient.Connect(socket);
        Span<byte> id = stackalloc byte[4];
        Assert.Equal(4, client.ReadRegion(VfioPci.ConfigRegionIndex, 0, id));
        Assert.Equal(new byte[] { 0x48, 0x43 }, id[..2].ToArray()); // mtty's vendor ID, 0x4348
    }

    [Fact]
    public async Task The_next_pod_gets_a_different_device_and_a_reallocated_slot_loses_its_old_device_first()
    {
        await using var node = await Node.StartAsync();
        var first = UuidOf(await node.Kubelet.AdmitAsync("pod-a", Mtty2));
        var second = UuidOf(await node.Kubelet.AdmitAsync("pod-b", Mtty2));
        Assert.NotEqual(first, second);
        Assert.NotEqual(node.Kubelet.HeldBy("pod-a")[0], node.Kubelet.HeldBy("pod-b")[0]);
        // kubelet gives pod-a's slot to pod-c once pod-a is gone: its old device is removed before the new one is made.
        string slot = node.Kubelet.HeldBy("pod-a")[0];
        node.Kubelet.DeletePod("pod-a");
        var response = await node.Kubelet.Find(Mtty2)!.Client.AllocateAsync(new Dp.AllocateRequest { ContainerRequests = { new Dp.ContainerAllocateRequest { DevicesIds = { slot } } } });
        var third = UuidOf(response.ContainerResponses[0]);
        Assert.NotEqual(first, third);
        Assert.False(Directory.Exists(node.DevicePath(first)));
        Assert.True(Directory.Exists(node.DevicePath(third)));
    }

    [Fact]
    public async Task Assignments_survive_a_plugin_restart()
    {
        await using var node = await Node.StartAsync();
        var uuid = UuidOf(await node.Kubelet.AdmitAsync("pod-a", Mtty2));
        var before = node.Kubelet.Find(Mtty2)!.Devices.Select(d => d.ID).ToArray();
        await node.StopPluginAsync();
        await TestKubelet.WaitForAsync(() => node.Kubelet.Find(Mtty2)!.Ended, "kubelet sees the stream end");
        Assert.True(Directory.Exists(node.DevicePath(uuid)), "stopping the plugin keeps the devices");

        await node.StartPluginAsync();
        Assert.Equal(2, node.Kubelet.Registrations[Mtty2]);
        Assert.Equal(before, node.Kubelet.Find(Mtty2)!.Devices.Select(d => d.ID).ToArray()); // kubelet's checkpointed IDs still mean the same
        await node.Plugin!.ReconcileAsync(CancellationToken.None);
        Assert.True(Directory.Exists(node.DevicePath(uuid)), "the reloaded assignment is held by pod-a");
        Assert.NotEqual(uuid, UuidOf(await node.Kubelet.AdmitAsync("pod-b", Mtty2)));
    }

    [Fact]
    public async Task A_plugin_restarted_while_the_daemon_is_down_still_offers_its_held_slots_as_Unhealthy()
    {
        await using var node = await Node.StartAsync();
        var uuid = UuidOf(await node.Kubelet.AdmitAsync("pod-a", Mtty2));
        string slot = node.Kubelet.HeldBy("pod-a")[0];
        await node.StopPluginAsync();
        node.KillDaemon();
        await node.StartPluginAsync(waitForCapacity: false);
        await TestKubelet.WaitForAsync(() => node.Kubelet.Registrations[Mtty2] == 2 && node.Kubelet.Find(Mtty2)!.Devices.Count > 0, "registered again");
        Assert.Equal("Unhealthy", node.Kubelet.Find(Mtty2)!.Devices.Single(d => d.ID == slot).Health);

        node.RestartDaemon();
        await TestKubelet.WaitForAsync(() => node.Kubelet.Find(Mtty2)!.Devices.Any(d => d.ID == slot && d.Health == "Healthy"), "held slot Healthy");
        Assert.True(Directory.Exists(node.DevicePath(uuid)), "the held device was made again with its UUID");
    }

    [Fact]
    public async Task A_re_registration_keeps_existing_assignments()
    {
        await using var node = await Node.StartAsync();
        var uuid = UuidOf(await node.Kubelet.AdmitAsync("pod-a", Mtty2));
        var old = node.Kubelet.Find(Mtty2)!;
        File.Delete(Path.Combine(node.Kubelet.DevicePluginDir, old.Endpoint)); // the plugin's socket vanished: it serves and registers again
        await TestKubelet.WaitForAsync(() => node.Kubelet.Registrations[Mtty2] == 2 && node.Kubelet.Capacity(Mtty2) > 0, "registered again");
        Assert.True(old.Ended);
        Assert.True(Directory.Exists(node.DevicePath(uuid)));
        await node.Plugin!.ReconcileAsync(CancellationToken.None);
        Assert.True(Directory.Exists(node.DevicePath(uuid)));
        Assert.Equal("Healthy", node.Kubelet.Find(Mtty2)!.Devices.Single(d => d.ID == node.Kubelet.HeldBy("pod-a")[0]).Health);
    }

    [Fact]
    public async Task A_kubelet_restart_is_recovered_from()
    {
        await using var node = await Node.StartAsync();
        var uuid = UuidOf(await node.Kubelet.AdmitAsync("pod-a", Mtty2));
        int capacity = node.Kubelet.Capacity(Mtty2);
        await node.Kubelet.RestartAsync(); // every socket in the folder deleted, kubelet.sock recreated
        Assert.Equal(0, node.Kubelet.Capacity(Mtty2));
        await TestKubelet.WaitForAsync(() => node.Kubelet.Capacity(Mtty2) == capacity, "capacity back after the kubelet restart");
        Assert.Empty(node.Kubelet.Refused);
        Assert.True(Directory.Exists(node.DevicePath(uuid)), "the pod keeps its device");
        await node.Plugin!.ReconcileAsync(CancellationToken.None);
        Assert.True(Directory.Exists(node.DevicePath(uuid)));
        Assert.NotEqual(uuid, UuidOf(await node.Kubelet.AdmitAsync("pod-b", Mtty2)));
    }

    [Fact]
    public async Task Slots_turn_unhealthy_when_the_daemon_is_killed_and_healthy_when_it_returns()
    {
        await using var node = await Node.StartAsync();
        var response = await node.Kubelet.AdmitAsync("pod-a", Mtty2);
        var uuid = UuidOf(response);
        string slot = node.Kubelet.HeldBy("pod-a")[0];
        var plugin = node.Kubelet.Find(Mtty2)!;
        using var container = new ContainerMount(response.Mounts[0].HostPath);
        node.KillDaemon();
        await TestKubelet.WaitForAsync(() => plugin.Devices.All(d => d.Health == "Unhealthy"), "every slot Unhealthy");
        Assert.Equal(0, node.Kubelet.Capacity(Mtty2));
        var down = await Assert.ThrowsAsync<RpcException>(() => node.Kubelet.Find(Mtty2)!.Client.AllocateAsync(
            new Dp.AllocateRequest { ContainerRequests = { new Dp.ContainerAllocateRequest { DevicesIds = { plugin.Devices[^1].ID } } } }).ResponseAsync);
        Assert.Equal(StatusCode.Unavailable, down.StatusCode);
        Assert.Contains("does not answer", down.Status.Detail);

        node.RestartDaemon();
        await TestKubelet.WaitForAsync(() => plugin.Devices.All(d => d.Health == "Healthy"), "every slot Healthy again");
        Assert.True(Directory.Exists(node.DevicePath(uuid)), "the held device was made again with its UUID");
        // The pod's folder mount shows the new daemon's socket: the folder outlived the daemon, the socket is bound in it again.
        using var client = VfioUserClient.Connect(Path.Combine(container.Path, "vfio-user.sock"));
        Span<byte> id = stackalloc byte[2];
        Assert.Equal(2, client.ReadRegion(VfioPci.ConfigRegionIndex, 0, id));
        Assert.Equal(slot, node.Kubelet.HeldBy("pod-a")[0]);
    }

    [Fact]
    public async Task Unknown_IDs_are_refused_and_nothing_is_created()
    {
        await using var node = await Node.StartAsync();
        int available = node.AvailableMtty2();
        var e = await Assert.ThrowsAsync<RpcException>(() => node.Kubelet.Find(Mtty2)!.Client.AllocateAsync(
            new Dp.AllocateRequest { ContainerRequests = { new Dp.ContainerAllocateRequest { DevicesIds = { "mtty-0", "gpu-7" } } } }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("unknown device IDs: gpu-7", e.Status.Detail);
        Assert.Equal(available, node.AvailableMtty2());
        Assert.Equal("{}", File.Exists(node.StateFile) ? File.ReadAllText(node.StateFile).Trim() : "{}");
    }

    [Fact]
    public async Task A_full_pool_is_refused_with_ENOSPC_and_nothing_is_half_created()
    {
        await using var node = await Node.StartAsync();
        var plugin = node.Kubelet.Find(Mtty2)!;
        string[] ids = plugin.Devices.Take(2).Select(d => d.ID).ToArray();
        // Someone else takes all but one instance through the tree: two slots cannot both be filled.
        string create = Path.Combine(node.Daemon.Dir, "class/mdev_bus/mtty/mdev_supported_types/mtty-2/create");
        var others = new List<Guid>();
        while (node.AvailableMtty2() > 1)
        {
            others.Add(Guid.NewGuid());
            Umdev.Interop.AttributeFile.Write(create, others[^1].ToString());
        }
        // The plugin sees it: one free slot stays Healthy, the other turns Unhealthy (its ID stays listed).
        await TestKubelet.WaitForAsync(() => plugin.Devices.Count(d => d.Health == "Healthy") == 1, "one slot healthy");
        Assert.Equal("Unhealthy", plugin.Devices.Single(d => d.ID == ids[1]).Health);
        // A kubelet that has not seen the change yet asks for both.
        var e = await Assert.ThrowsAsync<RpcException>(() => plugin.Client.AllocateAsync(
            new Dp.AllocateRequest { ContainerRequests = { new Dp.ContainerAllocateRequest { DevicesIds = { ids } } } }).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.Contains("No space left on device", e.Status.Detail);
        Assert.Equal(1, node.AvailableMtty2()); // the first slot's device was removed again
        Assert.Equal(others.Count, Directory.GetDirectories(Path.Combine(node.Daemon.Dir, "bus/mdev/devices")).Length);
    }

    [Fact]
    public async Task The_reconcile_removes_the_devices_of_slots_no_pod_holds()
    {
        await using var node = await Node.StartAsync();
        var kept = UuidOf(await node.Kubelet.AdmitAsync("pod-a", Mtty2));
        var gone = UuidOf(await node.Kubelet.AdmitAsync("pod-b", Mtty2));
        node.Kubelet.DeletePod("pod-b");
        await node.Plugin!.ReconcileAsync(CancellationToken.None);
        Assert.True(Directory.Exists(node.DevicePath(kept)));
        Assert.False(Directory.Exists(node.DevicePath(gone)));
        Assert.DoesNotContain(gone.ToString(), File.ReadAllText(node.StateFile));
        Assert.False(Directory.Exists(Path.Combine(node.Daemon.SocketDir, gone.ToString())), "a removed device's socket folder goes with it");
    }
}
