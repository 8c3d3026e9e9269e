using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio;
using static Umdev.Devices.Mbochs.Tests.MbochsFixture;

namespace Umdev.Devices.Mbochs.Tests;

/// <summary>mbochs.md §1.2–1.4 and §1.6: what a VMM sees of the device, through the device file.</summary>
public class DeviceTests
{
    [Fact]
    public void InfoHasTenRegionsAndNoInterruptsButReq()
    {
        using var f = new MbochsFixture();
        var info = f.File.GetInfo();
        Assert.Equal(VfioDeviceFlags.Pci, info.Flags);
        Assert.Equal(10u, info.NumRegions);
        for (uint i = 0; i < VfioPci.ReqIrqIndex; i++) Assert.Equal((0u, VfioIrqInfoFlags.None), (f.File.GetIrqInfo(i).Count, f.File.GetIrqInfo(i).Flags));
        Assert.Equal(new VfioIrqInfo(VfioPci.ReqIrqIndex, VfioIrqInfoFlags.EventFd, 1), f.File.GetIrqInfo(VfioPci.ReqIrqIndex));
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => f.File.GetIrqInfo(VfioPci.NumIrqs)).Errno);
    }

    [Fact]
    public void RegionsAreMemoryRegistersConfigAndEdid()
    {
        using var f = new MbochsFixture("mbochs-medium");
        var bar0 = f.File.GetRegionInfo(Bar0);
        using (bar0.MmapHandle)
        {
            Assert.Equal(VfioRegionFlags.Read | VfioRegionFlags.Write | VfioRegionFlags.Mmap, bar0.Flags);
            Assert.Equal(16ul << 20, bar0.Size);
            Assert.NotNull(bar0.MmapHandle);
        }
        var bar2 = f.File.GetRegionInfo(Bar2);
        Assert.Equal((VfioRegionFlags.Read | VfioRegionFlags.Write, 4096ul), (bar2.Flags, bar2.Size));
        Assert.Equal(256ul, f.File.GetRegionInfo(VfioPci.ConfigRegionIndex).Size);
        var edid = f.File.GetRegionInfo(EdidRegion, 64);
        Assert.Equal(4096ul, edid.Size);
        var type = Assert.IsType<VfioRegionTypeCapability>(Assert.Single(edid.Capabilities));
        Assert.Equal((1u, 1u), (type.Type, type.Subtype)); // VFIO_REGION_TYPE_GFX, VFIO_REGION_SUBTYPE_GFX_EDID
        foreach (uint empty in new uint[] { 1, 3, 4, 5, 6, 8 }) Assert.Equal(0ul, f.File.GetRegionInfo(empty).Size);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => f.File.GetRegionInfo(10)).Errno);
    }

    [Fact]
    public void ConfigSpaceIsABochsDisplayWithAPrefetchableMemoryBar()
    {
        using var f = new MbochsFixture();
        var config = new byte[256];
        f.File.ReadRegion(VfioPci.ConfigRegionIndex, 0, config);
        Assert.Equal(0x11111234u, BinaryPrimitives.ReadUInt32LittleEndian(config));
        Assert.Equal(0x11001af4u, BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(0x2c)));
        Assert.Equal([0x01, 0x00, 0x80, 0x03], config[8..12]); // revision 1, class 0x0380
        Assert.Equal(0x8u, BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(0x10))); // 32-bit prefetchable memory
        Assert.Equal(0x0u, BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(0x18)));
        Assert.Equal(0, config[0x3d]); // no interrupt pin
        Assert.Equal(0, config[0x34]); // no capabilities

        f.File.WriteRegion(VfioPci.ConfigRegionIndex, 0x10, [0xff, 0xff, 0xff, 0xff]);
        var bar = new byte[4];
        f.File.ReadRegion(VfioPci.ConfigRegionIndex, 0x10, bar);
        Assert.Equal(0xFFC00008u, BinaryPrimitives.ReadUInt32LittleEndian(bar)); // 4 MiB
    }

    [Fact]
    public void DispiRegistersResetAsTheSamplesAndTakeSixteenBitWrites()
    {
        using var f = new MbochsFixture();
        Assert.Equal(0xB0C5, f.ReadDispi(Id));
        Assert.Equal(64, f.ReadDispi(VideoMemory64K)); // 4 MB / 64 KiB
        f.WriteDispi(Xres, 640);
        Assert.Equal(640, f.ReadDispi(Xres));
        f.File.Reset();
        Assert.Equal(0, f.ReadDispi(Xres));
        Assert.Equal(0xB0C5, f.ReadDispi(Id));
    }

    [Fact]
    public void EightAndThirtyTwoBitDispiAccessesAreIgnored()
    {
        using var f = new MbochsFixture();
        f.File.WriteRegion(Bar2, DispiBase + 2 * Xres, [0x80]);
        f.File.WriteRegion(Bar2, DispiBase + 2 * Yres, [0xe0, 0x01, 0x20, 0x00]); // YRES and BPP in one aligned 32-bit write
        Assert.Equal(0, f.ReadDispi(Xres));
        Assert.Equal(0, f.ReadDispi(Yres));
        Assert.Equal(0, f.ReadDispi(Bpp));
        var wide = new byte[4];
        f.File.ReadRegion(Bar2, DispiBase, wide);
        Assert.Equal(new byte[4], wide); // the sample answers a 32-bit DISPI read with 0
        var narrow = new byte[1];
        f.File.ReadRegion(Bar2, DispiBase, narrow);
        Assert.Equal(0, narrow[0]);
    }

    [Fact]
    public void VgaPortsAndQemuExtensionRegistersReadZeroAndIgnoreWrites()
    {
        using var f = new MbochsFixture();
        f.File.WriteRegion(Bar2, 0x400, [0x20]);
        f.File.WriteRegion(Bar2, 0x600, [1, 0, 0, 0]);
        var b = new byte[8];
        f.File.ReadRegion(Bar2, 0x41a, b.AsSpan(0, 1));
        f.File.ReadRegion(Bar2, 0x600, b);
        Assert.Equal(new byte[8], b);
    }

    [Fact]
    public void MemoryBarReadsAndWritesAreWhatTheMappingShows()
    {
        // mbochs.md §1.6: the sample's read/write of BAR0 lands two pages away from what mmap shows.
        using var f = new MbochsFixture();
        using var vram = f.MapVram();
        f.File.WriteRegion(Bar0, 0x3000, [1, 2, 3, 4]);
        Assert.Equal([1, 2, 3, 4], vram.Span(0x3000, 4).ToArray());
        vram.Span(0x3ffffc, 4).Fill(0xAB);
        var b = new byte[4];
        f.File.ReadRegion(Bar0, 0x3ffffc, b);
        Assert.Equal(new byte[] { 0xAB, 0xAB, 0xAB, 0xAB }, b);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => f.File.ReadRegion(Bar0, 0x3ffffe, b)).Errno);
    }
}
