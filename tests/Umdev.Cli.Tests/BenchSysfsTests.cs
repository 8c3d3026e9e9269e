namespace Umdev.Cli.Tests;

/// <summary>The benchmark runs end to end (its figures are not asserted: speed is not a test).</summary>
public class BenchSysfsTests
{
    [Fact]
    public void ReportsEveryFigure()
    {
        var output = new StringWriter();
        Assert.Equal(0, BenchSysfsCommand.Run(0.2, [20], output));
        string text = output.ToString();
        Assert.Contains("no-op attribute write", text);
        Assert.Contains("create+remove cycle", text);
        Assert.Contains("ls bus/mdev/devices,     20 devices", text);
        Assert.Contains("daemon memory at 20 devices", text);
    }
}
