using Umdev.Vfio.Pci;

namespace Umdev.Guest.Tests;

/// <summary>The C# firmware over devices whose config space comes from the builder.</summary>
public class FirmwareTests
{
    /// <summary>BAR0-1 64-bit prefetchable 16 MiB, BAR2 32-bit 16 KiB holding the MSI-X table and PBA, BAR4 32 I/O ports.</summary>
    internal static PciConfigLayout ThreeBars() => new PciConfigSpaceBuilder()
        .Ids(0x1b36, 0x0005).Revision(1).ClassCode(0xff, 0x00).Subsystem(0x1af4, 0x1100).InterruptPin(1)
        .MemoryBar(0, 16 << 20, is64Bit: true, prefetchable: true)
        .MemoryBar(2, 16 << 10)
        .IoBar(4, 32)
        .MsiX(tableSize: 4, tableBar: 2, tableOffset: 0x2000, pbaBar: 2, pbaOffset: 0x3000)
        .VendorCapability([0x00, 0x01, 0x02, 0x03, 0x04])
        .Build();

    [Fact]
    public void Firmware_sizes_and_assigns_a_64bit_prefetchable_a_32bit_and_an_io_bar()
    {
        var device = new PciTestDevice(ThreeBars());
        var function = PciFirmware.Configure(new PciConfigAccess(device), [0xc000], 11);

        Assert.Equal(
        [
            new PciBar(0, false, 16 << 20, 0x80_0000_0000, Is64Bit: true, IsPrefetchable: true),
            new PciBar(2, false, 16 << 10, 0xe000_0000),
            new PciBar(4, true, 32, 0xc000),
        ], function.Bars);
        Assert.Equal(0x0000000cu, device.Config.ReadUInt32(0x10));
        Assert.Equal(0x00000080u, device.Config.ReadUInt32(0x14));
        Assert.Equal(0xe0000000u, device.Config.ReadUInt32(0x18));
        Assert.Equal(0x0000c001u, device.Config.ReadUInt32(0x20));
        Assert.Equal(0x80_0000_0000ul, device.Config.GetBarAddress(0));
        Assert.Equal(PciHeader.CommandIo | PciHeader.CommandMemory, device.Config.ReadUInt16(PciHeader.Command));
        Assert.Equal(11, function.InterruptLine);
        Assert.Equal(0xff0000u, function.ClassCode);
    }

    [Fact]
    public void Memory_bars_are_packed_largest_first_and_only_64bit_prefetchable_ones_go_above_4GiB()
    {
        var layout = new PciConfigSpaceBuilder().Ids(1, 2)
            .MemoryBar(0, 0x1000)
            .MemoryBar(1, 1 << 20, is64Bit: true)                         // not prefetchable: stays below 4 GiB
            .MemoryBar(3, 0x4000, prefetchable: true)                      // 32-bit prefetchable: below too
            .Build();
        var device = new PciTestDevice(layout);
        var function = PciFirmware.Configure(new PciConfigAccess(device), [], 0, new PciMemoryWindows(0xc000_0000, 0xc100_0000, 1UL << 36, 1UL << 37));
        Assert.Equal([0xc010_4000ul, 0xc000_0000, 0xc010_0000], function.Bars.Select(b => b.Address));
        Assert.Equal([0, 1, 3], function.Bars.Select(b => b.Index));
        Assert.Equal(PciHeader.CommandMemory, device.Config.ReadUInt16(PciHeader.Command));
    }

    [Fact]
    public void A_bar_that_does_not_fit_its_window_is_left_unassigned_and_decoding_stays_off()
    {
        var device = new PciTestDevice(new PciConfigSpaceBuilder().Ids(1, 2).MemoryBar(0, 1 << 20).Build());
        var function = PciFirmware.Configure(new PciConfigAccess(device), [], 0, new PciMemoryWindows(0xfe00_0000, 0xfe08_0000, 0, 0));
        Assert.Equal(new PciBar(0, false, 1 << 20, 0), Assert.Single(function.Bars));
        Assert.Equal(0u, device.Config.ReadUInt32(0x10));
        Assert.Equal(0, device.Config.ReadUInt16(PciHeader.Command));
    }

    [Fact]
    public void A_bar_of_8GiB_is_sized_through_its_upper_half()
    {
        var device = new PciTestDevice(new PciConfigSpaceBuilder().Ids(1, 2).MemoryBar(2, 8UL << 30, is64Bit: true, prefetchable: true).Build());
        var function = PciFirmware.Configure(new PciConfigAccess(device), [], 0);
        var bar = Assert.Single(function.Bars);
        Assert.Equal(8UL << 30, bar.Size);
        Assert.Equal(0x80_0000_0000ul, bar.Address);
    }
}
