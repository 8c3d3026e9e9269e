using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Umdev.Core;
using Umdev.Sysfs;
using Umdev.VfioUser;
using Umdev.VfioUser.Client;
using S = Umdev.Vfio.Migration.VfioMigrationState;

namespace Umdev.Cli;

/// <summary>
/// <c>umdev bench migrate</c>: downtime of <see cref="DeviceMigration"/> (source STOP_COPY entered → destination
/// RUNNING) between two daemons, for one device moved back and forth and for many devices moved once. The
/// daemons are in-process instances of what <c>umdev serve</c> runs (core, mtty, FUSE mount, vfio-user
/// service) on temporary directories; the tool side goes through the mounts and sockets as <c>umdev
/// migrate</c> does. Floor, same run: the five vfio-user round trips the downtime window needs (SET
/// STOP_COPY, MIG_DATA_READ, MIG_DATA_WRITE, SET STOP, SET RUNNING) timed as five bare MIG_DEVICE_STATE GETs.
/// </summary>
public static class BenchMigrateCommand
{
    private const int RoundTripsInDowntime = 5;

    public static Command Create()
    {
        var single = new Option<int>("--moves") { Description = "Moves of the single device", DefaultValueFactory = _ => 200 };
        var devices = new Option<int>("--devices") { Description = "Devices moved once each in the bulk run", DefaultValueFactory = _ => 1000 };
        var command = new Command("migrate", "Downtime of umdev migrate between two daemons (median, p99, stream bytes) vs a vfio-user round-trip floor");
        command.Options.Add(single);
        command.Options.Add(devices);
        command.SetAction(r => Run(r.GetValue(single), r.GetValue(devices), Console.Out));
        return command;
    }

    /// <summary>One in-process daemon (what <c>umdev serve</c> runs) on a temporary directory.</summary>
    private sealed class Daemon : IDisposable
    {
        private readonly string _root = Directory.CreateTempSubdirectory("umdev-bench-mig-").FullName;
        private readonly UmdevDaemon _daemon;

        public Daemon(int ports)
        {
            Directory.CreateDirectory(Sysfs);
            _daemon = UmdevDaemon.Start(Sysfs, Path.Combine(_root, "sockets"), [ParentSpec.Parse($"mtty:ports={ports}", "bench")], NullLoggerFactory.Instance);
        }

        public string Sysfs => Path.Combine(_root, "sys");
        public MdevCore Core => _daemon.Core;
        public MdevParent Mtty => _daemon.FindParent("mtty")!;

        public void Dispose()
        {
            _daemon.Dispose();
            try { Directory.Delete(_root, true); } catch (IOException) { }
        }
    }

    public static int Run(int moves, int devices, TextWriter output)
    {
        moves = Math.Max(moves, 20);
        devices = Math.Max(devices, 1);
        using var a = new Daemon(2 * devices + 2);
        using var b = new Daemon(2 * devices + 2);
        var timeout = TimeSpan.FromSeconds(60);
        var there = new DeviceMigration(a.Sysfs, b.Sysfs, timeout, output);
        var back = new DeviceMigration(b.Sysfs, a.Sysfs, timeout, output);

        // One device, back and forth; warm-up moves first.
        var one = a.Core.Create(a.Mtty.FindType("mtty-2")!, Guid.NewGuid()).Uuid;
        var singleMs = new List<double>();
        ulong bytes = 0;
        for (int i = 0; i < moves + 10; i++)
        {
            var report = (i % 2 == 0 ? there : back).Move(one);
            bytes = report.StreamBytes;
            if (i >= 10) singleMs.Add(report.Downtime.TotalMilliseconds);
        }
        var floorMs = Floor(a, b, moves);

        // Many devices, each moved once.
        var type = a.Mtty.FindType("mtty-2")!;
        var uuids = Enumerable.Range(0, devices).Select(_ => a.Core.Create(type, Guid.NewGuid()).Uuid).ToArray();
        var bulkMs = new List<double>();
        var wall = Stopwatch.StartNew();
        foreach (var uuid in uuids) bulkMs.Add(there.Move(uuid).Downtime.TotalMilliseconds);
        wall.Stop();
        var bulkFloorMs = Floor(a, b, moves);

        output.WriteLine($"migrate bench: mtty-2 devices between two in-process daemons (FUSE mounts + vfio-user sockets), {bytes} stream bytes per device");
        output.WriteLine($"{"run",-26} {"moves",6} {"median ms",10} {"p99 ms",8} {"floor ms",9} {"ratio",6}");
        Line(output, "1 device, back and forth", singleMs, floorMs);
        Line(output, $"{devices} devices, once each", bulkMs, bulkFloorMs);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"bulk wall time {wall.Elapsed.TotalSeconds:F1} s ({wall.Elapsed.TotalMilliseconds / devices:F1} ms per move incl. create, connect, remove); floor = {RoundTripsInDowntime} bare vfio-user round trips"));
        return 0;
    }

    private static void Line(TextWriter output, string run, List<double> ms, double floor)
    {
        double median = Percentile(ms, 0.5);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{run,-26} {ms.Count,6} {median,10:F3} {Percentile(ms, 0.99),8:F3} {floor,9:F3} {median / floor,6:F1}"));
    }

    /// <summary>Median time of the downtime window's round-trip count, over a device of each daemon.</summary>
    private static double Floor(Daemon source, Daemon destination, int samples)
    {
        var s = source.Core.Create(source.Mtty.FindType("mtty-1")!, Guid.NewGuid());
        var d = destination.Core.Create(destination.Mtty.FindType("mtty-1")!, Guid.NewGuid());
        try
        {
            using var sc = VfioUserClient.Connect(DeviceMigration.SocketOf(source.Sysfs, s.Uuid));
            using var dc = VfioUserClient.Connect(DeviceMigration.SocketOf(destination.Sysfs, d.Uuid));
            var ms = new List<double>();
            for (int i = 0; i < samples + 10; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                for (int k = 0; k < 2; k++) sc.GetDeviceState();
                for (int k = 0; k < RoundTripsInDowntime - 2; k++)
                    if (dc.GetDeviceState() != S.Running) throw new InvalidOperationException("floor device not running");
                if (i >= 10) ms.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
            return Percentile(ms, 0.5);
        }
        finally
        {
            source.Core.Remove(s);
            destination.Core.Remove(d);
        }
    }

    /// <summary>The nearest-rank percentile <paramref name="p"/> (0–1] of <paramref name="values"/>.</summary>
    internal static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
    }
}
