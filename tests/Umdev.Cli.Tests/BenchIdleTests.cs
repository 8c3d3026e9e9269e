namespace Umdev.Cli.Tests;

/// <summary>The idle-device benchmark runs end to end (its figures are not asserted: speed is not a test).</summary>
public class BenchIdleTests
{
    [Fact]
    public void ReportsEveryFigure()
    {
        var output = new StringWriter();
        Assert.Equal(0, BenchIdleCommand.Run(devices: 20, clients: 3, iterations: 10_000, output));
        string text = output.ToString();
        Assert.Contains("with 20 idle devices (target ≤ 64)", text);
        Assert.Contains("memory per idle device:", text);
        Assert.Contains("the vfio-user service's", text);
        Assert.Contains("round trip,   1 client(s) connected: ratio", text);
        Assert.Contains("threads with 3 clients connected:", text);
        Assert.Contains("once they are quiet", text);
        Assert.Contains("round trip,   3 client(s) connected: ratio", text);
    }
}
