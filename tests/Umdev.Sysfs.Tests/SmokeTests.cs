namespace Umdev.Sysfs.Tests;

public class SmokeTests
{
    [Fact]
    public void CreateThroughShellThenList()
    {
        using var t = new MountedTree();
        var r = Shell.Sh($"echo 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001 > {t.TypeDir("mtty-2")}/create && ls -lR {t.Dir} && cat {t.TypeDir("mtty-2")}/available_instances");
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        Console.Error.WriteLine(r.Stdout);
    }
}
