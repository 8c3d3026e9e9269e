using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.Devices.Mtty.Tests;

public class ConfigSpaceTests
{
    private static byte[] ExpectedImage(int ports)
    {
        var e = new byte[256];
        byte[] head = [0x48, 0x43, 0x53, 0x32, 0x01, 0x00, 0x00, 0x02, 0x10, 0x02, 0x00, 0x07];
        head.CopyTo(e, 0);
        e[0x10] = 0x01;
        if (ports == 2) e[0x14] = 0x01;
        e[0x2C] = 0x48; e[0x2D] = 0x43; e[0x2E] = 0x53; e[0x2F] = 0x32;
        e[0x3D] = 0x01;
        e[0x40] = 0x23; e[0x43] = 0x80; e[0x44] = 0x23; e[0x48] = 0x23; e[0x4C] = 0x23;
        "PCI Serial/UART"u8.ToArray().CopyTo(e, 0x60);
        return e;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Image_is_byte_for_byte_the_kernel_one(int ports)
    {
        using var f = new MttyFixture(ports);
        Assert.Equal(ExpectedImage(ports), f.ReadConfig(0, 256));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Image_read_in_single_bytes_matches(int ports)
    {
        using var f = new MttyFixture(ports);
        var expected = ExpectedImage(ports);
        for (uint i = 0; i < 256; i++) Assert.Equal(expected[i], f.ReadConfig(i, 1)[0]);
    }

    [Fact]
    public void Kernel_documentation_guest_dump_after_programming_bars_and_irq_line()
    {
        using var f = new MttyFixture(2);
        f.WriteConfig(0x10, 0x50, 0xC1, 0, 0);
        f.WriteConfig(0x14, 0x58, 0xC1, 0, 0);
        f.WriteConfig(0x3C, 0x0A);
        Assert.Equal(Convert.FromHexString(
            "48435332010000021002000700000000" +
            "51c1000059c100000000000000000000" +
            "00000000000000000000000048435332" +
            "000000000000000000000000" + "0a010000"), f.ReadConfig(0, 64));
    }

    [Theory]
    [InlineData(0x10)]
    [InlineData(0x14)]
    public void Bar_sizing_reads_back_size_8_io(uint offset)
    {
        using var f = new MttyFixture(2);
        f.WriteConfig(offset, 0xFF, 0xFF, 0xFF, 0xFF);
        Assert.Equal(0xFFFFFFF9u, f.ReadConfig32(offset));
    }

    [Theory]
    [InlineData(0xC150u, 0xC151u)]
    [InlineData(0u, 1u)]
    [InlineData(0xC156u, 0xC157u)] // address bits 2:1 are kept, as in the sample
    [InlineData(0xFFFFFFFEu, 0xFFFFFFFFu)]
    public void Bar_address_is_stored_with_the_io_bit(uint written, uint expected)
    {
        using var f = new MttyFixture(2);
        f.WriteConfig(0x10, BitConverter.GetBytes(written));
        Assert.Equal(expected, f.ReadConfig32(0x10));
        f.WriteConfig(0x14, BitConverter.GetBytes(written));
        Assert.Equal(expected, f.ReadConfig32(0x14));
    }

    [Fact]
    public void Bar1_of_a_single_port_card_is_forced_to_zero()
    {
        using var f = new MttyFixture(1);
        f.WriteConfig(0x14, 0xFF, 0xFF, 0xFF, 0xFF);
        Assert.Equal(0u, f.ReadConfig32(0x14));
        f.WriteConfig(0x14, 0x58, 0xC1, 0, 0);
        Assert.Equal(0u, f.ReadConfig32(0x14));
    }

    [Fact]
    public void Narrow_bar_writes_are_zero_extended()
    {
        using var f = new MttyFixture(2);
        f.WriteConfig(0x10, 0xFF, 0xFF, 0xFF, 0xFF);
        f.WriteConfig(0x10, 0x50, 0xC1);
        Assert.Equal(0x0000C151u, f.ReadConfig32(0x10));
        f.WriteConfig(0x10, 0xFF, 0xFF, 0xFF, 0xFF);
        f.WriteConfig(0x10, 0xF8);
        Assert.Equal(0x000000F9u, f.ReadConfig32(0x10));
        // A 0xFFFF half-word is not a sizing write: it is zero-extended before the 0xFFFFFFFF test.
        f.WriteConfig(0x14, 0xFF, 0xFF);
        Assert.Equal(0x0000FFFFu, f.ReadConfig32(0x14));
    }

    [Theory]
    [InlineData(0x18u)]
    [InlineData(0x1Cu)]
    [InlineData(0x20u)]
    public void Bar2_to_4_writes_force_zero(uint offset)
    {
        using var f = new MttyFixture(2);
        f.WriteConfig(offset, 0xFF, 0xFF, 0xFF, 0xFF);
        Assert.Equal(0u, f.ReadConfig32(offset));
        f.WriteConfig(offset, 0x01, 0x10, 0, 0);
        Assert.Equal(0u, f.ReadConfig32(offset));
    }

    [Theory]
    [InlineData(0x04u, new byte[] { 0x07, 0x01 })]        // command
    [InlineData(0x06u, new byte[] { 0xFF, 0xFF })]        // status
    [InlineData(0x04u, new byte[] { 0x06, 0x00, 0xFF, 0xFF })] // command + status in one dword
    [InlineData(0x3Du, new byte[] { 0x04 })]              // interrupt pin
    [InlineData(0x24u, new byte[] { 0xFF, 0xFF, 0xFF, 0xFF })] // BAR5
    [InlineData(0x30u, new byte[] { 0xFF, 0xFF, 0xFF, 0xFF })] // expansion ROM
    [InlineData(0x3Eu, new byte[] { 0x12, 0x34 })]        // min grant / max latency
    [InlineData(0x00u, new byte[] { 0x00, 0x00, 0x00, 0x00 })] // ids
    [InlineData(0x08u, new byte[] { 0xFF })]              // revision
    [InlineData(0x34u, new byte[] { 0x40 })]              // capability pointer
    [InlineData(0x40u, new byte[] { 0x00, 0x00, 0x00, 0x00 })] // vendor bytes
    [InlineData(0x60u, new byte[] { 0x00, 0x00, 0x00, 0x00 })] // vendor string
    [InlineData(0xFCu, new byte[] { 0x01, 0x02, 0x03, 0x04 })] // last dword
    public void Ignored_config_writes_leave_the_image_unchanged(uint offset, byte[] data)
    {
        using var f = new MttyFixture(2);
        f.WriteConfig(offset, data);
        Assert.Equal(ExpectedImage(2), f.ReadConfig(0, 256));
    }

    [Theory]
    [InlineData(new byte[] { 0x0A })]
    [InlineData(new byte[] { 0x0A, 0x77 })]
    [InlineData(new byte[] { 0x0A, 0x77, 0x88, 0x99 })]
    public void Interrupt_line_takes_the_first_byte_of_any_width(byte[] data)
    {
        using var f = new MttyFixture(2);
        f.WriteConfig(0x3C, data);
        Assert.Equal(new byte[] { 0x0A, 0x01, 0x00, 0x00 }, f.ReadConfig(0x3C, 4));
    }

    [Fact]
    public void A_write_starting_before_a_register_is_split_and_reaches_it_only_by_an_aligned_piece()
    {
        using var f = new MttyFixture(2);
        // 4 bytes at 0x12 are split into 2 at 0x12 (ignored) and 2 at 0x14 (BAR1, zero-extended).
        f.WriteConfig(0x12, 0xAA, 0xBB, 0x58, 0xC1);
        Assert.Equal(0x1u, f.ReadConfig32(0x10));
        Assert.Equal(0xC159u, f.ReadConfig32(0x14));
        // 2 bytes at 0x3B are split into 1 at 0x3B (ignored) and 1 at 0x3C (interrupt line).
        f.WriteConfig(0x3B, 0x55, 0x0B);
        Assert.Equal(new byte[] { 0x00, 0x0B, 0x01 }, f.ReadConfig(0x3B, 3));
    }

    [Theory]
    [InlineData(0x100u, 1)]
    [InlineData(0xFFu, 2)]
    [InlineData(0xFCu, 8)]
    [InlineData(0u, 257)]
    [InlineData(0x1000u, 4)]
    public void Accesses_past_the_config_region_are_rejected(uint offset, int length)
    {
        using var f = new MttyFixture(2);
        var buffer = new byte[length];
        Errnos.Expect(Errno.EINVAL, () => f.File.ReadRegion(VfioPci.ConfigRegionIndex, offset, buffer));
        Errnos.Expect(Errno.EINVAL, () => f.File.WriteRegion(VfioPci.ConfigRegionIndex, offset, buffer));
        Assert.Equal(ExpectedImage(2), f.ReadConfig(0, 256));
    }

    [Fact]
    public void Last_config_byte_is_readable()
    {
        using var f = new MttyFixture(2);
        Assert.Equal(new byte[] { 0 }, f.ReadConfig(0xFF, 1));
    }
}
