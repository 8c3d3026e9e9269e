using System.CommandLine;
using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Umdev.Core;
using Umdev.Sysfs;

namespace Umdev.Cli;

/// <summary>
/// <c>umdev bench sysfs</c>: the management path's speed through the mounted tree, each figure next to a
/// floor measured in the same run: create+remove cycles against a no-op attribute write, <c>ls</c> of
/// bus/mdev/devices against <c>ls</c> of a plain directory of as many links, and memory per device.
/// </summary>
public static class BenchSysfsCommand
{
    public static Command Create()
    {
        var seconds = new Option<double>("--seconds") { Description = "Total duration of each timed measurement (split into interleaved rounds)", DefaultValueFactory = _ => 6 };
        var counts = new Option<int[]>("--devices") { Description = "Device counts for the ls and memory figures", DefaultValueFactory = _ => [1000, 10000], AllowMultipleArgumentsPerToken = true };
        var sysfs = new Command("sysfs", "Benchmark the sysfs tree over FUSE (needs root and /dev/fuse)") { seconds, counts };
        sysfs.SetAction(r => Run(r.GetValue(seconds), r.GetValue(counts)!, Console.Out));
        return sysfs;
    }

    public static int Run(double seconds, int[] deviceCounts, TextWriter output)
    {
        int maxDevices = deviceCounts.Length == 0 ? 0 : deviceCounts.Max();
        var core = new MdevCore();
        var mtty = ParentPlugins.Get("mtty");
        var parent = mtty.Register(core, MdevParentOptions.Parse(mtty, $"ports={maxDevices + 2}"));
        var type1 = parent.FindType("mtty-1")!;
        string dir = Directory.CreateTempSubdirectory("umdev-bench-sys-").FullName;
        string floorDir = Directory.CreateTempSubdirectory("umdev-bench-links-").FullName;
        try
        {
            using var mount = SysfsMount.Start(core, dir, NullLogger.Instance);
            output.WriteLine($"umdev bench sysfs: mount {dir}, {Environment.ProcessorCount} cpus, {seconds:0.#} s per rate measurement");

            // Floor: the same open/write/close through the mount, to a store that does nothing ("0" to remove).
            var anchor = core.Create(type1, Guid.NewGuid());
            string noOp = Path.Combine(dir, "bus/mdev/devices", anchor.Name, "remove");
            string create = Path.Combine(dir, "devices/virtual/mtty/mtty/mdev_supported_types/mtty-1/create");
            void NoOp() => ShellWrite(noOp, "0\n"u8);
            void Cycle()
            {
                string uuid = Guid.NewGuid().ToString("D");
                ShellWrite(create, System.Text.Encoding.ASCII.GetBytes(uuid + "\n"));
                ShellWrite(Path.Combine(dir, "bus/mdev/devices", uuid, "remove"), "1\n"u8);
            }
            // Interleaved rounds, so a change in the machine's load hits floor and cycle alike.
            const int Rounds = 6;
            var floors = new List<double>();
            var cycleRates = new List<double>();
            var ratios = new List<double>();
            for (int round = 0; round < Rounds; round++)
            {
                floors.Add(Rate(seconds / Rounds, NoOp));
                cycleRates.Add(Rate(seconds / Rounds, Cycle));
                ratios.Add(floors[^1] / cycleRates[^1]);
            }
            double floor = Median(floors), cycles = Median(cycleRates);
            core.Remove(anchor);
            output.WriteLine($"no-op attribute write (open/write/close): {floor,10:N0} /s   (floor)");
            output.WriteLine($"create+remove cycle (2 × open/write/close): {cycles,8:N0} /s   one cycle costs {Median(ratios):0.00} no-op writes (median of {Rounds} interleaved rounds)");

            long managedBefore = ManagedBytes();
            long rssBefore = Environment.WorkingSet;
            int created = 0;
            foreach (int count in deviceCounts.Order())
            {
                for (; created < count; created++) core.Create(type1, Guid.NewGuid());
                for (int i = Directory.GetFiles(floorDir).Length; i < count; i++)
                    File.CreateSymbolicLink(Path.Combine(floorDir, Guid.NewGuid().ToString("D")), "../../../devices/virtual/mtty/mtty/x");
                double ls = LsMilliseconds(Path.Combine(dir, "bus/mdev/devices"), count);
                double lsFloor = LsMilliseconds(floorDir, count);
                output.WriteLine($"ls bus/mdev/devices, {count,6} devices: {ls,8:0.0} ms   (ls of a local dir of {count} links: {lsFloor:0.0} ms, ratio {ls / lsFloor:0.0})");
            }
            if (created > 0)
            {
                long managed = ManagedBytes() - managedBefore;
                long rss = Environment.WorkingSet - rssBefore;
                output.WriteLine($"daemon memory at {created} devices: {managed / created:N0} B/device managed heap, {rss / created:N0} B/device RSS (kernel node ids held: {mount.KnownNodes})");
            }
            foreach (var mdev in core.Devices) core.Remove(mdev);
            return 0;
        }
        finally
        {
            mtty.Unregister(core, parent);
            Directory.Delete(floorDir, true);
            try { Directory.Delete(dir); } catch (IOException) { }
        }
    }

    /// <summary>What <c>echo … &gt; file</c> does: open(O_WRONLY|O_CREAT|O_TRUNC), one write, close.</summary>
    private static void ShellWrite(string path, ReadOnlySpan<byte> bytes)
    {
        using var handle = File.OpenHandle(path, FileMode.Create, FileAccess.Write, FileShare.ReadWrite);
        RandomAccess.Write(handle, bytes, 0);
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static double Rate(double seconds, Action operation)
    {
        for (int i = 0; i < 20; i++) operation(); // warm-up: JIT, dentries
        var sw = Stopwatch.StartNew();
        long n = 0;
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            operation();
            n++;
        }
        return n / sw.Elapsed.TotalSeconds;
    }

    /// <summary>Median wall time of five runs of /bin/ls on the directory (after two untimed ones); checks it listed every entry.</summary>
    private static double LsMilliseconds(string path, int expected)
    {
        var times = new List<double>();
        for (int run = -2; run < 5; run++)
        {
            var psi = new ProcessStartInfo("/bin/ls", ["-1", path]) { RedirectStandardOutput = true, UseShellExecute = false };
            var sw = Stopwatch.StartNew();
            using var p = Process.Start(psi)!;
            int lines = 0;
            while (p.StandardOutput.ReadLine() is not null) lines++;
            p.WaitForExit();
            if (run >= 0) times.Add(sw.Elapsed.TotalMilliseconds);
            if (lines != expected) throw new InvalidOperationException($"ls {path} listed {lines} entries, expected {expected}");
        }
        return Median(times);
    }

    private static long ManagedBytes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(true);
    }
}
