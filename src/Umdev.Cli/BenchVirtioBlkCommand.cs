using System.CommandLine;
using System.Diagnostics;

namespace Umdev.Cli;

/// <summary>
/// <c>umdev bench virtio-blk</c>: a real guest's disk throughput on umdev's virtio-blk against QEMU's own
/// in-process virtio-blk-pci, the same guest on the same backing file, booted by the checkout's
/// <c>tools/guest/bench-virtio-blk.sh</c> (which prints the figures and the ratios).
/// </summary>
public static class BenchVirtioBlkCommand
{
    public static Command Create()
    {
        var mib = new Option<int>("--mib") { Description = "MiB written and read sequentially with 1 MiB requests", DefaultValueFactory = _ => 64 };
        var reads = new Option<int>("--reads-4k") { Description = "4 KiB O_DIRECT reads", DefaultValueFactory = _ => 4096 };
        var rounds = new Option<int>("--rounds") { Description = "Boots of each guest, alternating", DefaultValueFactory = _ => 1 };
        var command = new Command("virtio-blk", "A guest's sequential 1 MiB MB/s and 4 KiB reads/s on umdev's virtio-blk vs QEMU's virtio-blk-pci (TCG)");
        command.Options.Add(mib);
        command.Options.Add(reads);
        command.Options.Add(rounds);
        command.SetAction(r => Run(r.GetValue(mib), r.GetValue(reads), r.GetValue(rounds), Console.Error));
        return command;
    }

    private static int Run(int mib, int reads, int rounds, TextWriter error)
    {
        if (RepositoryTools.Find() is not { } tools)
        {
            error.WriteLine("umdev bench virtio-blk: needs the checkout's tools/ (run the umdev built inside it)");
            return 1;
        }
        var run = new ProcessStartInfo(Path.Combine(tools.Root, "tools/guest/bench-virtio-blk.sh")) { UseShellExecute = false };
        run.Environment["BENCH_MIB"] = mib.ToString();
        run.Environment["BENCH_READS_4K"] = reads.ToString();
        run.Environment["BENCH_ROUNDS"] = rounds.ToString();
        run.Environment["UMDEV_DLL"] = Path.Combine(AppContext.BaseDirectory, "umdev.dll"); // this very build serves the disk
        using var bench = Process.Start(run)!;
        bench.WaitForExit();
        return bench.ExitCode;
    }
}
