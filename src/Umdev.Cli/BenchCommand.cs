using System.CommandLine;

namespace Umdev.Cli;

/// <summary><c>umdev bench …</c>: each benchmark reports its figures as ratios to a floor measured in the same run.</summary>
public static class BenchCommand
{
    public static Command Create() => new("bench", "Benchmarks, each against a floor measured in the same run")
    {
        BenchSysfsCommand.Create(),
        BenchVfioUserCommand.Create(),
        BenchMigrateCommand.Create(),
        BenchMbochsCommand.Create(),
        BenchDevicePluginCommand.Create(),
        BenchVirtioBlkCommand.Create(),
        BenchIdleCommand.Create(),
    };
}
