using System.Buffers.Binary;
using static Umdev.Devices.Mbochs.Tests.MbochsFixture;

namespace Umdev.Devices.Mbochs.Tests;

/// <summary>mbochs.md §1.3–1.4: the EDID region, its link state, and the blob at BAR2 + 0.</summary>
public class EdidTests
{
    private static uint ReadReg(MbochsFixture f, uint offset)
    {
        var b = new byte[4];
        f.File.ReadRegion(EdidRegion, offset, b);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    private static void WriteReg(MbochsFixture f, uint offset, uint value)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        f.File.WriteRegion(EdidRegion, offset, b);
    }

    private static byte[] Blob() => [0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, .. Enumerable.Range(8, 120).Select(i => (byte)i)];

    private static byte[] BarEdid(MbochsFixture f, int length = 128)
    {
        var b = new byte[length];
        f.File.ReadRegion(Bar2, 0, b);
        return b;
    }

    [Fact]
    public void RegistersDescribeTheBlobAndTheTypesMaximum()
    {
        using var f = new MbochsFixture("mbochs-medium");
        Assert.Equal([0x800u, 0x400u, 0u, 1920u, 1440u, 0u], Enumerable.Range(0, 6).Select(i => ReadReg(f, (uint)(4 * i))));
    }

    [Fact]
    public void TheBlobShowsAtBar2OnlyWhileTheLinkIsUp()
    {
        using var f = new MbochsFixture();
        f.File.WriteRegion(EdidRegion, 0x800, Blob());
        WriteReg(f, 8, 128);
        Assert.Equal(new byte[128], BarEdid(f));
        WriteReg(f, 20, 1); // up
        Assert.Equal(Blob(), BarEdid(f));
        Assert.Equal(new byte[8], BarEdid(f, 136)[128..]); // past edid_size
        WriteReg(f, 20, 2); // down
        Assert.Equal(new byte[128], BarEdid(f));
    }

    [Fact]
    public void WritesOfBadSizesOrToReadOnlyRegistersAreIgnored()
    {
        using var f = new MbochsFixture();
        f.File.WriteRegion(EdidRegion, 8, [0x80, 0x00]);  // 16-bit write of edid_size
        f.File.WriteRegion(EdidRegion, 20, [1]);          // 8-bit write of link_state
        WriteReg(f, 8, 0x401);                            // edid_size past edid_max_size
        WriteReg(f, 4, 0x1000);                           // edid_max_size is read-only
        WriteReg(f, 12, 4096);                            // max_xres is read-only
        Assert.Equal([0x800u, 0x400u, 0u, 800u, 600u, 0u], Enumerable.Range(0, 6).Select(i => ReadReg(f, (uint)(4 * i))));
        f.File.WriteRegion(EdidRegion, 0xbfe, [1, 2, 3, 4]); // straddles the blob's end: the piece past it is dropped
        var tail = new byte[2];
        f.File.ReadRegion(EdidRegion, 0xbfe, tail);
        Assert.Equal(new byte[] { 1, 2 }, tail);
        var past = new byte[4];
        f.File.ReadRegion(EdidRegion, 0xc00, past);
        Assert.Equal(new byte[4], past);
    }
}
