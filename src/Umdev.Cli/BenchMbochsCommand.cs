using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Umdev.Core;
using Umdev.Guest;
using Umdev.Vfio;
using Umdev.VfioUser;
using Umdev.VfioUser.Display;

namespace Umdev.Cli;

/// <summary>
/// <c>umdev bench mbochs</c>: what a mediated display costs. In process: <c>umdev screenshot</c>'s parts at
/// 1920x1080 (display-socket capture, PNG encoding) against a plain copy of the frame, and the resident memory
/// each served mbochs-small device adds, against an mtty-1 device's. Then, with a checkout's guest tooling,
/// the real guest's full-screen redraw rate against QEMU's own bochs-display (tools/guest/bench-mbochs.sh).
/// </summary>
public static class BenchMbochsCommand
{
    private const ushort Width = 1920, Height = 1080;

    public static Command Create()
    {
        var frames = new Option<int>("--frames") { Description = "Frames the guest redraws per boot", DefaultValueFactory = _ => 300 };
        var rounds = new Option<int>("--rounds") { Description = "Boots of each guest (umdev, QEMU), alternating", DefaultValueFactory = _ => 1 };
        var devices = new Option<int>("--devices") { Description = "Devices created for the memory figure", DefaultValueFactory = _ => 64 };
        var noGuest = new Option<bool>("--no-guest") { Description = "Only the in-process figures (no QEMU)" };
        var command = new Command("mbochs", "Display: guest redraw frames/s vs QEMU bochs-display, vfio-user messages per frame, screenshot cost at 1920x1080, RSS per device");
        command.Options.Add(frames);
        command.Options.Add(rounds);
        command.Options.Add(devices);
        command.Options.Add(noGuest);
        command.SetAction(r => Run(r.GetValue(frames), r.GetValue(rounds), r.GetValue(devices), r.GetValue(noGuest), Console.Out, Console.Error));
        return command;
    }

    public static int Run(int frames, int rounds, int devices, bool noGuest, TextWriter output, TextWriter error)
    {
        Screenshot(output);
        Memory(Math.Max(devices, 1), output);
        if (noGuest) return 0;
        if (RepositoryTools.Find() is not { } tools)
        {
            output.WriteLine("guest redraw: skipped (tools/guest is not above this binary; run umdev from its checkout)");
            return 0;
        }
        var run = new ProcessStartInfo(tools.BenchMbochs) { UseShellExecute = false };
        run.Environment["BENCH_FRAMES"] = Math.Max(frames, 1).ToString(CultureInfo.InvariantCulture);
        run.Environment["BENCH_ROUNDS"] = Math.Max(rounds, 1).ToString(CultureInfo.InvariantCulture);
        run.Environment["UMDEV_DLL"] = Path.Combine(AppContext.BaseDirectory, "umdev.dll");
        using var bench = Process.Start(run)!;
        bench.WaitForExit();
        if (bench.ExitCode != 0) error.WriteLine($"umdev bench mbochs: {tools.BenchMbochs} failed (exit {bench.ExitCode})");
        return bench.ExitCode == 0 ? 0 : 1;
    }

    /// <summary>A served mbochs-medium at 1920x1080 with a pattern drawn: capture, encode, and a plain copy as the floor.</summary>
    private static void Screenshot(TextWriter output)
    {
        string dir = Directory.CreateTempSubdirectory("umdev-bench-mbochs-").FullName;
        try
        {
            var core = new MdevCore();
            var plugin = ParentPlugins.Get("mbochs");
            var parent = plugin.Register(core, MdevParentOptions.Defaults(plugin));
            using var service = new VfioUserService(core, dir, NullLoggerFactory.Instance);
            var mdev = core.Create(parent.FindType("mbochs-medium")!, Guid.NewGuid());
            using (var file = ((VfioDevice)mdev.DriverData!).Open())
            using (var guest = BochsDisplayGuest.Boot(file))
            {
                guest.SetMode(Width, Height);
                var pixels = guest.Framebuffer.Span(0, Width * Height * 4);
                for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)(i * 7 + i / 7680);
            }
            string socket = VfioUserService.DisplaySocketPathFor(dir, mdev.Uuid);
            var copy = new byte[Width * Height * 4];
            double captureMs = Median(30, () =>
            {
                using var frame = VfioDisplayClient.Capture(socket);
                for (int y = 0; y < Height; y++) frame.Row(y).CopyTo(copy.AsSpan(y * Width * 4));
            });
            long pngBytes = 0;
            double encodeMs = Median(7, () =>
            {
                using var frame = VfioDisplayClient.Capture(socket);
                using var png = new MemoryStream();
                ScreenshotPng.Write(frame, png);
                pngBytes = png.Length;
            });
            using var source = VfioDisplayClient.Capture(socket);
            double floorMs = Median(30, () =>
            {
                for (int y = 0; y < Height; y++) source.Row(y).CopyTo(copy.AsSpan(y * Width * 4));
            });
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"screenshot at {Width}x{Height} (mbochs-medium, {Width * Height * 4 / 1e6:F1} MB frame), median:"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  copy of the mapped frame (floor)        {floorMs,9:F2} ms"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  capture: display socket, receive, copy  {captureMs,9:F2} ms  {captureMs / floorMs,7:F2} x floor"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  umdev screenshot: capture + PNG encode   {encodeMs,9:F2} ms  {encodeMs / floorMs,7:F2} x floor  ({pngBytes / 1e6:F2} MB PNG)"));
            core.Remove(mdev);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Resident memory a served device adds (its memfd untouched, as before a guest draws), against mtty-1.</summary>
    private static void Memory(int devices, TextWriter output)
    {
        string dir = Directory.CreateTempSubdirectory("umdev-bench-mbochs-").FullName;
        try
        {
            var core = new MdevCore();
            var mbochs = ParentPlugins.Get("mbochs");
            var mtty = ParentPlugins.Get("mtty");
            var display = mbochs.Register(core, MdevParentOptions.Parse(mbochs, $"count={4 * devices}"));
            var serial = mtty.Register(core, MdevParentOptions.Parse(mtty, $"ports={devices}"));
            using var service = new VfioUserService(core, dir, NullLoggerFactory.Instance);
            double mbochsKb = RssPerDevice(core, display.FindType("mbochs-small")!, devices);
            double mttyKb = RssPerDevice(core, serial.FindType("mtty-1")!, devices);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"daemon RSS per served device ({devices} created, core + vfio-user service in process):"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  mbochs-small  {mbochsKb,8:F1} KiB  {mbochsKb / mttyKb,6:F2} x mtty-1  (4 MB video memory untouched: a memfd costs no RSS until drawn into)"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  mtty-1        {mttyKb,8:F1} KiB"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static double RssPerDevice(MdevCore core, MdevType type, int count)
    {
        long before = RssKb();
        var created = new List<MdevDevice>();
        for (int i = 0; i < count; i++) created.Add(core.Create(type, Guid.NewGuid()));
        long after = RssKb();
        foreach (var mdev in created) core.Remove(mdev);
        return (after - before) / (double)count;
    }

    private static long RssKb()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
        return 0;
    }

    private static double Median(int runs, Action action)
    {
        action(); // warm-up
        var ms = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            ms[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(ms);
        return ms[runs / 2];
    }
}
