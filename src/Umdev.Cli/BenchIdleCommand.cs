using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Umdev.Core;
using Umdev.Interop;
using Umdev.VfioUser;

namespace Umdev.Cli;

/// <summary>
/// <c>umdev bench idle</c>: what idle devices cost the daemon (the mount, the vfio-user service and mtty, wired
/// as <c>serve</c> wires them, in this process): its threads and resident memory per device with many devices
/// listening on their sockets, then the round trip of one of many connected clients against the socket floor.
/// </summary>
public static class BenchIdleCommand
{
    public static Command Create()
    {
        var devices = new Option<int>("--devices") { Description = "Idle mtty-1 devices, each with its socket", DefaultValueFactory = _ => 10_000 };
        var clients = new Option<int>("--clients") { Description = "Clients then connected (one per device) for the round-trip figure", DefaultValueFactory = _ => 100 };
        var iterations = new Option<int>("--iterations") { Description = "Timed round trips per path (split into alternating rounds)", DefaultValueFactory = _ => 200_000 };
        var idle = new Command("idle", "Threads and memory per idle device of the daemon, and the round trip with many clients connected (needs root and /dev/fuse)")
        {
            devices, clients, iterations,
        };
        idle.SetAction(r => Run(r.GetValue(devices), r.GetValue(clients), r.GetValue(iterations), Console.Out));
        return idle;
    }

    /// <summary>Alternating floor/server rounds of the round trip, each server round on another client.</summary>
    private const int Rounds = 10;

    public static int Run(int devices, int clients, int iterations, TextWriter output)
    {
        devices = Math.Max(devices, 1);
        clients = Math.Clamp(clients, 1, devices);
        string sysfs = Directory.CreateTempSubdirectory("umdev-bench-idle-sys-").FullName;
        string sockets = Path.Combine(Path.GetTempPath(), $"umdev-bench-idle-{Environment.ProcessId}");
        var connected = new List<UnixSocket>();
        try
        {
            // mtty-1 takes one port of the parent's pool: enough for every device and the warm-up's.
            var spec = ParentSpec.Parse($"mtty:ports={devices + 1}", "bench");
            using var daemon = UmdevDaemon.Start(sysfs, sockets, [spec], NullLoggerFactory.Instance);
            var core = daemon.Core;
            var type = daemon.FindParent("mtty")!.FindType("mtty-1")!;
            output.WriteLine($"umdev bench idle: {devices} mtty-1 devices, {clients} clients, {Environment.ProcessorCount} cpus, sockets in {sockets}");

            // The paths a device and a client take run once first, so code and pools do not count per device.
            for (int i = 0; i < 3; i++)
            {
                var warm = core.Create(type, Guid.NewGuid());
                using (var socket = UnixSocket.Connect(SocketOf(daemon, warm)))
                {
                    VfioUserBench.Negotiate(socket);
                    VfioUserBench.Measure(socket, 1000);
                }
                core.Remove(warm);
            }
            var before = DaemonFigures.Take();
            var creating = Stopwatch.StartNew();
            for (int i = 0; i < devices; i++) core.Create(type, Guid.NewGuid());
            double created = creating.Elapsed.TotalMilliseconds;
            var idle = DaemonFigures.Take();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"threads: {before.Threads} with no device, {idle.Threads} with {devices} idle devices (target ≤ 64); created in {created:N0} ms"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"memory per idle device: {PerDevice(idle.Rss, before.Rss, devices),6:N0} B RSS (target ≤ 4,096; anon {PerDevice(idle.RssAnon, before.RssAnon, devices):N0}, file {PerDevice(idle.RssFile, before.RssFile, devices):N0}), {PerDevice(idle.Managed, before.Managed, devices):N0} B managed heap in {PerDevice(idle.GcCommitted, before.GcCommitted, devices):N0} B committed by the GC; RSS {before.Rss / 1024:N0} → {idle.Rss / 1024:N0} KiB"));

            // The vfio-user service's share of the heap: stop it (the devices stay) and measure, then serve them again.
            daemon.VfioUser.Dispose();
            var bare = DaemonFigures.Take();
            var serving = Stopwatch.StartNew();
            using var service = new VfioUserService(core, sockets, NullLoggerFactory.Instance);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"of the managed heap per device: {PerDevice(idle.Managed, bare.Managed, devices):N0} B the vfio-user service's (endpoint, listener, reactor watch, attribute group, paths), {PerDevice(bare.Managed, before.Managed, devices):N0} B the core's, mount's and mtty's; serving the {devices} devices again took {serving.Elapsed.TotalMilliseconds:N0} ms"));

            // The round trip with one client, then with all of them connected: the same server, the same floor.
            var served = core.Devices.Take(clients).ToArray();
            using var floor = new VfioUserBench.EchoPeer();
            int perRound = Math.Max(iterations / Rounds, 1_000);
            connected.Add(Connect(daemon, served[0]));
            output.WriteLine(RoundTrip(floor.Client, connected, perRound));
            foreach (var mdev in served.Skip(1)) connected.Add(Connect(daemon, mdev));
            var busy = DaemonFigures.Take();
            // Silent past the server's idle thread timeout, they wait on the reactor instead of a thread each.
            Thread.Sleep(new VfioUserServiceOptions().Server.IdleThreadTimeout + TimeSpan.FromSeconds(1));
            var quiet = DaemonFigures.Take();
            output.WriteLine($"threads with {clients} clients connected: {busy.Threads} just negotiated, {quiet.Threads} once they are quiet");
            output.WriteLine(RoundTrip(floor.Client, connected, perRound));
            return 0;
        }
        finally
        {
            foreach (var socket in connected) socket.Dispose();
            try { Directory.Delete(sysfs); } catch (IOException) { }
            try { Directory.Delete(sockets, true); } catch (IOException) { }
        }
    }

    private static UnixSocket Connect(UmdevDaemon daemon, MdevDevice mdev)
    {
        var socket = UnixSocket.Connect(SocketOf(daemon, mdev));
        try
        {
            VfioUserBench.Negotiate(socket);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Floor and server alternately, each server round on another of the connected clients; the headline is the
    /// median of the rounds' ratios (a round's load hits its floor and its server alike).
    /// </summary>
    private static string RoundTrip(UnixSocket floor, List<UnixSocket> clients, int perRound)
    {
        var floorRounds = new List<VfioUserBench.Sample>();
        var serverRounds = new List<VfioUserBench.Sample>();
        for (int r = 0; r < Rounds; r++)
        {
            floorRounds.Add(VfioUserBench.Measure(floor, perRound));
            serverRounds.Add(VfioUserBench.Measure(clients[r * clients.Count / Rounds], perRound));
        }
        var f = VfioUserBench.Combine("", "floor", floorRounds);
        var s = VfioUserBench.Combine("", "server", serverRounds);
        var ratios = floorRounds.Zip(serverRounds, (a, b) => b.MedianNs / a.MedianNs).Order().ToArray();
        return string.Create(CultureInfo.InvariantCulture,
            $"round trip, {clients.Count,3} client(s) connected: ratio {ratios[Rounds / 2]:F3} (target ≤ 1.05; rounds {ratios[0]:F3}–{ratios[^1]:F3}) REGION_READ {s.MedianNs:F0} ns vs socketpair echo {f.MedianNs:F0} ns, p99 {s.P99Ns:F0} vs {f.P99Ns:F0} ns; {Rounds} alternating rounds of {perRound}");
    }

    // The service was restarted in the same directory: the daemon's (stopped) one still names it.
    private static string SocketOf(UmdevDaemon daemon, MdevDevice mdev) => VfioUserService.SocketPathFor(daemon.VfioUser.SocketDirectory, mdev.Uuid);

    private static double PerDevice(long after, long before, int devices) => (double)(after - before) / devices;

    /// <summary>This process's threads and memory (from /proc/self/status), after a full collection.</summary>
    private sealed record DaemonFigures(int Threads, long Rss, long RssAnon, long RssFile, long Managed, long GcCommitted)
    {
        public static DaemonFigures Take()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            long managed = GC.GetTotalMemory(true);
            var status = File.ReadAllLines("/proc/self/status")
                .Select(l => l.Split(':', 2))
                .Where(p => p.Length == 2)
                .ToDictionary(p => p[0], p => p[1].Trim());
            static long Kib(string value) => long.Parse(value.Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            return new DaemonFigures(int.Parse(status["Threads"], CultureInfo.InvariantCulture),
                Kib(status["VmRSS"]), Kib(status["RssAnon"]), Kib(status["RssFile"]), managed, GC.GetGCMemoryInfo().TotalCommittedBytes);
        }
    }
}
