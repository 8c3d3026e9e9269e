using System.CommandLine;
using System.Globalization;

namespace Umdev.Cli;

/// <summary><c>umdev bench vfio-user</c>: latency of the vfio-user server against the socket floor.</summary>
public static class BenchVfioUserCommand
{
    public static Command Create()
    {
        var iterations = new Option<int>("--iterations") { Description = "Timed round trips per path", DefaultValueFactory = _ => 200_000 };
        var cpu = new Option<int>("--cpu") { Description = "CPU for the pinned runs", DefaultValueFactory = _ => 0 };
        var serve = new Option<bool>("--serve") { Description = "Only serve an mtty-2 device and print its socket (for vfu-lat); stops at end of input" };
        var vfioUser = new Command("vfio-user", "1-byte REGION_READ of mtty's LSR through the socket vs a bare socketpair echo (median, p99, ratio, allocations)");
        vfioUser.Options.Add(iterations);
        vfioUser.Options.Add(cpu);
        vfioUser.Options.Add(serve);
        vfioUser.SetAction(r => r.GetValue(serve) ? Serve(Console.Out, Console.In) : Run(r.GetValue(iterations), r.GetValue(cpu), Console.Out));
        return vfioUser;
    }

    public static int Run(int iterations, int cpu, TextWriter output)
    {
        if (iterations < 1000) iterations = 1000;
        var figures = VfioUserBench.Run(iterations, cpu, Console.Error);
        output.WriteLine($"vfio-user bench: {iterations} x REGION_READ region 0 offset 5 count 1 (32 bytes out, 33 back)");
        output.WriteLine($"{"mode",-18} {"path",-26} {"median ns/op",12} {"p99 ns/op",10} {"ratio",6} {"alloc B/op",10}");
        foreach (var group in figures.GroupBy(f => f.Mode))
        {
            double floor = group.First().MedianNs;
            foreach (var f in group)
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{f.Mode,-18} {f.Path,-26} {f.MedianNs,12:F0} {f.P99Ns,10:F0} {f.MedianNs / floor,6:F2} {f.AllocatedBytesPerOp,10:F3}"));
        }
        return 0;
    }

    private static int Serve(TextWriter output, TextReader input)
    {
        using var served = new VfioUserBench.ServedMtty();
        output.WriteLine(served.SocketPath);
        output.Flush();
        while (input.ReadLine() is not null) { }
        return 0;
    }
}
