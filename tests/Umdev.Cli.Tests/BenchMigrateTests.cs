namespace Umdev.Cli.Tests;

/// <summary>The migration benchmark runs end to end (its figures are not asserted: speed is not a test).</summary>
public class BenchMigrateTests
{
    [Fact]
    public void ReportsDowntimeFloorAndStreamBytes()
    {
        var output = new StringWriter();
        Assert.Equal(0, BenchMigrateCommand.Run(20, 5, output));
        string text = output.ToString();
        Assert.Contains("96 stream bytes per device", text);
        Assert.Matches(@"1 device, back and forth\s+20\s+\d+\.\d{3}\s+\d+\.\d{3}\s+\d+\.\d{3}\s+\d+\.\d", text);
        Assert.Matches(@"5 devices, once each\s+5\s", text);
    }
}
