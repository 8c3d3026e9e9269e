using Umdev.Cli;

namespace Umdev.Cli.Tests;

public class DemoTests
{
    [Fact]
    public void Demo_passes_every_check_and_shows_the_documented_guest_view()
    {
        var output = new StringWriter();
        int rc = DemoCommand.Run(output);
        string text = output.ToString();
        Assert.True(rc == 0, text);
        Assert.Contains("demo: all", text);
        Assert.DoesNotContain("FAIL", text);
        foreach (var line in DemoCommand.DocumentedConfigDump) Assert.Contains(line, text);
        Assert.Contains("0000:00:05.0: ttyS1 at I/O 0xc150 (irq = 10) is a 16550A", text);
        Assert.Contains("0000:00:05.0: ttyS2 at I/O 0xc158 (irq = 10) is a 16550A", text);
        Assert.Contains("00:05.0 Serial controller: Device 4348:3253 (rev 10) (prog-if 02 [16550])", text);
        Assert.Contains("Region 0: I/O ports at c150 [size=8]", text);
        Assert.Contains("Region 1: I/O ports at c158 [size=8]", text);
        Assert.Contains("Interrupt: pin A routed to IRQ 10", text);
        // The mounted view: created through the FUSE tree, shown as tree shows it, served on a socket.
        Assert.Contains("management through the sysfs tree mounted over FUSE", text);
        Assert.Contains("├── iommu_group -> ../../../../../kernel/iommu_groups/0", text);
        Assert.Contains("sample_mdev_dev  \"This is MDEV 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001\"", text);
        Assert.Contains("[ok] device served on its own vfio-user socket", text);
        Assert.Contains("[ok] the scanout, read while the guest holds the device, equals its test pattern pixel for pixel", text);
        Assert.Contains($"screenshot saved to {DemoDisplay.ScreenshotPath}", text);
        Assert.True(File.Exists(DemoDisplay.ScreenshotPath));
    }
}
