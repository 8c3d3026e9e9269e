using Umdev.Interop;
using System.Buffers.Binary;
using Umdev.Vfio.Pci;

namespace Umdev.Vfio.Tests;

/// <summary>BAR sizing as firmware does it: write all ones, read back the size mask with the type bits.</summary>
public class PciBarTests
{
    private static PciConfigSpace Space(Func<PciConfigSpaceBuilder, PciConfigSpaceBuilder> declare) =>
        declare(new PciConfigSpaceBuilder().Ids(0x1234, 0x5678)).Build().CreateSpace();

    private static void Write32(PciConfigSpace s, int offset, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        s.Write(offset, b);
    }

    private static uint Sized(PciConfigSpace s, int offset)
    {
        Write32(s, offset, 0xffffffff);
        return s.ReadUInt32(offset);
    }

    [Theory]
    [InlineData(4u, 0xfffffffdu)]
    [InlineData(8u, 0xfffffff9u)]
    [InlineData(256u, 0xffffff01u)]
    public void Io_bar_reads_back_its_size_mask_and_the_io_bit(uint size, uint expected)
    {
        var s = Space(b => b.IoBar(3, size));
        Assert.Equal(1u, s.ReadUInt32(0x1c));
        Assert.Equal(expected, Sized(s, 0x1c));
        Write32(s, 0x1c, 0xc100);
        Assert.Equal(0xc101u, s.ReadUInt32(0x1c)); // the I/O bit stays whatever is written
        Assert.Equal(0xc100ul, s.GetBarAddress(3));
    }

    [Theory]
    [InlineData(false, 0xff000000u)]
    [InlineData(true, 0xff000008u)]
    public void Memory32_bar_reads_back_its_size_mask_and_prefetchable_bit(bool prefetchable, uint expected)
    {
        var s = Space(b => b.MemoryBar(1, 16 << 20, prefetchable: prefetchable));
        Assert.Equal(expected, Sized(s, 0x14));
        Write32(s, 0x14, 0xfe00_0000 | 0x7); // type bits are read-only
        Assert.Equal(0xfe00_0000u | (prefetchable ? 8u : 0u), s.ReadUInt32(0x14));
        Assert.Equal(0xfe00_0000ul, s.GetBarAddress(1));
    }

    [Fact]
    public void Memory64_bar_sizes_through_both_slots()
    {
        var s = Space(b => b.MemoryBar(2, 8UL << 30, is64Bit: true, prefetchable: true));
        Assert.Equal(0xcu, s.ReadUInt32(0x18));
        Assert.Equal(0xcu, Sized(s, 0x18));         // below the 8 GiB size no low address bit sticks
        Assert.Equal(0xfffffffeu, Sized(s, 0x1c));  // upper slot: bit 33 and up
        ulong mask = (ulong)s.ReadUInt32(0x1c) << 32 | (s.ReadUInt32(0x18) & ~0xfu);
        Assert.Equal(8UL << 30, ~mask + 1);
        Write32(s, 0x18, 0);
        Write32(s, 0x1c, 0x80);
        Assert.Equal(0x80_0000_0000ul, s.GetBarAddress(2));
        Assert.Equal(0xcu, s.ReadUInt32(0x18));
    }

    [Fact]
    public void Small_memory64_bar_has_all_upper_bits_writable()
    {
        var s = Space(b => b.MemoryBar(0, 0x4000, is64Bit: true));
        Assert.Equal(0xffffc004u, Sized(s, 0x10));
        Assert.Equal(0xffffffffu, Sized(s, 0x14));
    }

    [Fact]
    public void Undeclared_bars_and_rom_read_zero_after_sizing()
    {
        var s = Space(b => b.IoBar(0, 8));
        foreach (int offset in new[] { 0x14, 0x18, 0x1c, 0x20, 0x24, 0x30 })
            Assert.Equal(0u, Sized(s, offset));
    }

    [Fact]
    public void Byte_writes_change_only_their_byte_of_a_bar()
    {
        var s = Space(b => b.MemoryBar(0, 0x1000));
        s.Write(0x13, [0xfe]);
        Assert.Equal(0xfe00_0000u, s.ReadUInt32(0x10));
        s.Write(0x11, [0xff]); // bits 11:8 lie inside the 4 KiB size and stay 0
        Assert.Equal(0xfe00_f000u, s.ReadUInt32(0x10));
    }

    [Fact]
    public void Layout_lists_the_bars_it_declares()
    {
        var layout = new PciConfigSpaceBuilder().MemoryBar(2, 1 << 20, is64Bit: true, prefetchable: true).IoBar(0, 16).Build();
        Assert.Equal([new PciBarDefinition(0, PciBarKind.Io, 16), new PciBarDefinition(2, PciBarKind.Memory64, 1 << 20, true)], layout.Bars);
        Assert.Null(layout.FindBar(3));
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => layout.CreateSpace().GetBarAddress(3)).Errno);
    }

    [Fact]
    public void Impossible_bars_are_refused_when_declared()
    {
        var b = new PciConfigSpaceBuilder();
        Assert.Throws<ArgumentOutOfRangeException>(() => b.IoBar(0, 12));           // not a power of two
        Assert.Throws<ArgumentOutOfRangeException>(() => b.IoBar(0, 512));          // I/O BARs are at most 256 bytes
        Assert.Throws<ArgumentOutOfRangeException>(() => b.MemoryBar(0, 8));        // memory BARs are at least 16 bytes
        Assert.Throws<ArgumentOutOfRangeException>(() => b.MemoryBar(0, 4UL << 30)); // too big for 32 bits
        Assert.Throws<ArgumentOutOfRangeException>(() => b.MemoryBar(5, 4096, is64Bit: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.IoBar(6, 8));
        b.MemoryBar(1, 4096, is64Bit: true);
        Assert.Throws<ArgumentException>(() => b.IoBar(2, 8));  // the upper half of BAR1
        Assert.Throws<ArgumentException>(() => b.MemoryBar(0, 4096, is64Bit: true));
    }
}
