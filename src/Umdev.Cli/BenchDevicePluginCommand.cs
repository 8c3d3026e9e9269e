using System.CommandLine;
using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Umdev.DevicePlugin;
using Umdev.Interop;
using Dp = Umdev.DevicePlugin.Api.V1Beta1;

namespace Umdev.Cli;

/// <summary>
/// <c>umdev bench device-plugin</c>: from kubelet's Allocate call (gRPC over the plugin's UNIX socket) to a
/// socket that accepts a connection at the path the container's mount shows, against its floor, one
/// <c>create</c> write through the mounted tree, each allocation followed by a floor sample so both see the
/// same load. Slots are reused round-robin, so past the first round each Allocate also removes the slot's
/// previous device, as it does when kubelet hands a freed slot to the next pod.
/// </summary>
public static class BenchDevicePluginCommand
{
    public static Command Create()
    {
        var allocations = new Option<int>("--allocations") { Description = "Allocate calls timed (and as many floor writes)", DefaultValueFactory = _ => 200 };
        var command = new Command("device-plugin", "Benchmark the kubelet device plugin's Allocate against one create write (needs root and /dev/fuse)") { allocations };
        command.SetAction(r => Run(r.GetValue(allocations), Console.Out));
        return command;
    }

    public static int Run(int allocations, TextWriter output)
    {
        if (allocations < 1) throw new ArgumentOutOfRangeException(nameof(allocations));
        string root = Directory.CreateTempSubdirectory("umdev-bench-dp-").FullName;
        string sysfs = Directory.CreateDirectory(Path.Combine(root, "sys")).FullName;
        string sockets = Path.Combine(root, "vfio-user");
        string plugins = Directory.CreateDirectory(Path.Combine(root, "device-plugins")).FullName;
        try
        {
            using (var daemon = UmdevDaemon.Start(sysfs, sockets, null, NullLoggerFactory.Instance))
                Measure(allocations, new MdevTree(sysfs), sockets, plugins, Path.Combine(root, "state.json"), output).GetAwaiter().GetResult();
            return 0;
        }
        finally
        {
            try { Directory.Delete(root, true); } catch (IOException) { }
        }
    }

    private static async Task Measure(int allocations, MdevTree tree, string sockets, string plugins, string stateFile, TextWriter output)
    {
        var resource = new MdevResource(tree, SlotAssignments.Load(stateFile), "umdev.io", sockets, "mtty-2");
        resource.Refresh();
        var type = tree.Types().First(t => t.Type == resource.Type);
        await using var endpoint = await PluginEndpoint.StartAsync(resource, plugins);
        using var channel = UnixGrpcChannel.For(endpoint.SocketPath);
        var kubelet = new Dp.DevicePlugin.DevicePluginClient(channel);
        // One slot stays free for the floor's create.
        string[] slots = resource.Devices.Select(d => d.ID).SkipLast(1).ToArray();
        output.WriteLine($"umdev bench device-plugin: {allocations} Allocate calls for {resource.Name} over {slots.Length} slots, {Environment.ProcessorCount} cpus");

        async Task<double> AllocateToConnect(string slot)
        {
            var sw = Stopwatch.StartNew();
            var response = await kubelet.AllocateAsync(new Dp.AllocateRequest { ContainerRequests = { new Dp.ContainerAllocateRequest { DevicesIds = { slot } } } });
            var mount = response.ContainerResponses[0].Mounts[0];
            using (UnixSocket.Connect(Path.Combine(mount.HostPath, Path.GetFileName(response.ContainerResponses[0].Envs["UMDEV_MTTY_2_SOCKETS"])))) { }
            return sw.Elapsed.TotalMilliseconds;
        }
        double CreateWrite()
        {
            var uuid = Guid.NewGuid();
            var sw = Stopwatch.StartNew();
            MdevTree.Create(type, uuid);
            double ms = sw.Elapsed.TotalMilliseconds;
            tree.Remove(uuid);
            return ms;
        }

        for (int i = 0; i < slots.Length; i++) { await AllocateToConnect(slots[i]); CreateWrite(); } // warm-up, and every slot holds a device
        var allocate = new List<double>();
        var floor = new List<double>();
        for (int i = 0; i < allocations; i++)
        {
            allocate.Add(await AllocateToConnect(slots[i % slots.Length]));
            floor.Add(CreateWrite());
        }
        double floorMedian = BenchMigrateCommand.Percentile(floor, 0.5);
        output.WriteLine($"create write through the mount:           median {floorMedian,7:0.000} ms   p99 {BenchMigrateCommand.Percentile(floor, 0.99),7:0.000} ms   (floor)");
        output.WriteLine($"Allocate → socket connectable at mount:   median {BenchMigrateCommand.Percentile(allocate, 0.5),7:0.000} ms   p99 {BenchMigrateCommand.Percentile(allocate, 0.99),7:0.000} ms   " +
            $"median {BenchMigrateCommand.Percentile(allocate, 0.5) / floorMedian:0.0}× the floor");
    }
}
