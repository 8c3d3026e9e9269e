using Umdev.Guest.Tests;
using Umdev.Vfio.Pci;

namespace Umdev.Cli.Tests;

/// <summary><c>umdev lspci</c>'s view of a device nobody configured: BAR sizes from region info, types from config space.</summary>
public class LspciMemoryBarTests
{
    [Fact]
    public void DescribeShowsMemoryBarsOfAnyWidthAndSizeAsUnassigned()
    {
        var layout = new PciConfigSpaceBuilder().Ids(0x1234, 0x1111).ClassCode(0x03, 0x00)
            .MemoryBar(0, 8UL << 30, is64Bit: true, prefetchable: true)
            .MemoryBar(2, 4096)
            .Build();
        string text = LspciCommand.Describe(new PciTestDevice(layout), 64);
        Assert.Contains(
            "\tRegion 0: Memory at <unassigned> (64-bit, prefetchable) [disabled] [size=8G]\n" +
            "\tRegion 2: Memory at <unassigned> (32-bit, non-prefetchable) [disabled] [size=4K]\n" +
            "00: 34 12 11 11 ", text);
    }
}
