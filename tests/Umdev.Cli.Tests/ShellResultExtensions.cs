using Umdev.Sysfs.Tests;

namespace Umdev.Cli.Tests;

public static class ShellResultExtensions
{
    public static Shell.Result AssertSuccess(this Shell.Result result)
    {
        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}: {result.Stderr}{result.Stdout}");
        return result;
    }
}
