using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.Devices.Mtty.Tests;

/// <summary>mtty.md §7: 4/2/1 splitting, one register per piece, and the regions that refuse access.</summary>
public class RegionAccessTests
{
    private const uint RBR = 0, IER = 1, FCR = 2, LCR = 3, MCR = 4, LSR = 5, SCR = 7;

    [Fact]
    public void A_dword_bar_write_touches_only_the_register_at_its_start()
    {
        using var f = new MttyFixture(1);
        Assert.Equal(4, f.File.WriteRegion(0, 4, [0x0B, 0x7F, 0x7F, 0x7F])); // MCR only
        Assert.Equal(0x0B, f.ReadReg(0, MCR));
        Assert.Equal(0x60, f.ReadReg(0, LSR));
        Assert.Equal(0x00, f.ReadReg(0, 7));
        Assert.Equal(4, f.File.WriteRegion(0, 0, [0x41, 0x42, 0x43, 0x44]));   // one THR byte
        Assert.Equal(0x41, f.ReadReg(0, RBR));
        Assert.Equal(0x60, f.ReadReg(0, LSR));
    }

    [Fact]
    public void An_8_byte_write_is_two_dwords()
    {
        using var f = new MttyFixture(1);
        Assert.Equal(8, f.File.WriteRegion(0, 0, [0x41, 1, 1, 1, 0x03, 2, 2, 2]));
        Assert.Equal(0x03, f.ReadReg(0, MCR));
        Assert.Equal(0x41, f.ReadReg(0, RBR));
        Assert.Equal(0x60, f.ReadReg(0, LSR));
    }

    [Fact]
    public void An_unaligned_7_byte_write_is_1_2_4()
    {
        using var f = new MttyFixture(1);
        Assert.Equal(7, f.File.WriteRegion(0, 1, [0x05, 0x06, 0xEE, 0x09, 0xEE, 0xEE, 0xEE]));
        Assert.Equal(0x05, f.ReadReg(0, IER));        // 1 byte at 1
        Assert.Equal(0x09, f.ReadReg(0, MCR));        // 4 bytes at 4; the FCR piece at 2 took 0x06
        f.WriteReg(0, 0, 0x01);
        f.WriteReg(0, 0, 0x02);                       // FCR 0x06 left FIFO mode off: second byte overruns
        Assert.Equal(0x03, f.ReadReg(0, LSR));
    }

    [Fact]
    public void A_3_byte_write_at_1_is_1_then_2()
    {
        using var f = new MttyFixture(1);
        Assert.Equal(3, f.File.WriteRegion(0, 1, [0x01, 0x83, 0xEE]));
        Assert.Equal(0x01, f.ReadReg(0, IER));
        Assert.Equal(0x00, f.ReadReg(0, LCR));        // the 2-byte piece went to offset 2 (FCR), not LCR
    }

    [Fact]
    public void Bar_reads_fill_only_the_first_byte_of_each_piece_and_zero_the_rest()
    {
        using var f = new MttyFixture(1);
        f.WriteReg(0, MCR, 0x0B);
        f.WriteReg(0, IER, 0x02);
        f.WriteReg(0, 0, 0x41);
        var dwords = new byte[8];
        Assert.Equal(8, f.File.ReadRegion(0, 0, dwords));      // RBR at 0, MCR at 4
        Assert.Equal(new byte[] { 0x41, 0, 0, 0, 0x0B, 0, 0, 0 }, dwords);
        var mixed = new byte[7];
        Assert.Equal(7, f.File.ReadRegion(0, 1, mixed));       // IER@1, IIR@2 (2), MCR@4 (4)
        Assert.Equal(new byte[] { 0x02, 0xC2, 0, 0x0B, 0, 0, 0 }, mixed);
    }

    [Fact]
    public void Config_reads_split_but_copy_every_byte()
    {
        using var f = new MttyFixture(2);
        var odd = f.ReadConfig(0x01, 7);
        Assert.Equal(new byte[] { 0x43, 0x53, 0x32, 0x01, 0x00, 0x00, 0x02 }, odd);
    }

    [Theory]
    [InlineData(2u)]
    [InlineData(3u)]
    [InlineData(4u)]
    [InlineData(5u)]
    [InlineData(6u)]
    [InlineData(8u)]
    [InlineData(9u)]
    [InlineData(0xFFFFFFu)]
    public void Regions_without_registers_are_einval(uint index)
    {
        using var f = new MttyFixture(2);
        var buffer = new byte[4];
        Errnos.Expect(Errno.EINVAL, () => f.File.ReadRegion(index, 0, buffer));
        Errnos.Expect(Errno.EINVAL, () => f.File.WriteRegion(index, 0, buffer));
        Errnos.Expect(Errno.EINVAL, () => f.File.ReadRegion(index, 0, buffer.AsSpan(0, 1)));
    }

    [Fact]
    public void Accesses_crossing_a_region_boundary_or_overflowing_are_einval()
    {
        using var f = new MttyFixture(2);
        var buffer = new byte[4];
        Errnos.Expect(Errno.EINVAL, () => f.File.Read(buffer, VfioPci.IndexToOffset(1) - 2));
        Errnos.Expect(Errno.EINVAL, () => f.File.Write(buffer, ulong.MaxValue - 1));
        Assert.Equal(0x60, f.ReadReg(1, LSR));
    }

    [Fact]
    public void Empty_accesses_succeed()
    {
        using var f = new MttyFixture(1);
        Assert.Equal(0, f.File.ReadRegion(0, 0, []));
        Assert.Equal(0, f.File.WriteRegion(VfioPci.ConfigRegionIndex, 0, []));
    }

    [Fact]
    public void Scratch_register_survives_wide_access_on_port_1()
    {
        using var f = new MttyFixture(2);
        Assert.Equal(2, f.File.WriteRegion(1, 6, [0x00, 0x00]));  // MSR piece only
        Assert.Equal(1, f.File.WriteRegion(1, SCR, [0x77]));
        Assert.Equal(0x77, f.ReadReg(1, SCR));
        Assert.Equal(0xB3, f.ReadReg(1, 6));
    }
}
