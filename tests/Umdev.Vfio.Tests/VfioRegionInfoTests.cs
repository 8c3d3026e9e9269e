using System.Buffers.Binary;
using Umdev.Vfio;

namespace Umdev.Vfio.Tests;

public class VfioRegionInfoTests
{
    private static readonly VfioRegionInfo Sparse = new(2, VfioRegionFlags.Read | VfioRegionFlags.Write | VfioRegionFlags.Mmap, 0x10000, 2UL << 40)
    {
        Capabilities = [new VfioSparseMmapCapability([new(0x1000, 0x2000), new(0x8000, 0x8000)]), new VfioRegionTypeCapability(0x80008086, 1)],
    };

    [Fact]
    public void Fixed_part_is_the_kernel_layout()
    {
        var info = new VfioRegionInfo(7, VfioRegionFlags.Read | VfioRegionFlags.Write, 256, 7UL << 40);
        var buf = new byte[32];
        Assert.Equal(32, info.Encode(buf, 32));
        Assert.Equal(32u, BinaryPrimitives.ReadUInt32LittleEndian(buf));
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(4)));
        Assert.Equal(7u, BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(8)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(12)));
        Assert.Equal(256ul, BinaryPrimitives.ReadUInt64LittleEndian(buf.AsSpan(16)));
        Assert.Equal(0x700_0000_0000ul, BinaryPrimitives.ReadUInt64LittleEndian(buf.AsSpan(24)));
    }

    [Fact]
    public void Caps_that_do_not_fit_set_CAPS_and_ask_for_a_bigger_argsz()
    {
        var buf = new byte[32];
        Assert.Equal(32, Sparse.Encode(buf, 32));
        uint needed = BinaryPrimitives.ReadUInt32LittleEndian(buf);
        Assert.Equal(32u + 48 + 16, needed);
        Assert.Equal(0xfu, BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(4)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(12)));
    }

    [Fact]
    public void Caps_chain_links_each_header_to_the_next_from_the_start_of_the_buffer()
    {
        var buf = new byte[96];
        Assert.Equal(96, Sparse.Encode(buf, 96));
        Assert.Equal(32u, BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(12)));
        var cap = buf.AsSpan(32);
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(cap));      // sparse mmap
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(cap[2..])); // version
        Assert.Equal(80u, BinaryPrimitives.ReadUInt32LittleEndian(cap[4..]));
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(cap[8..]));
        Assert.Equal(0x1000ul, BinaryPrimitives.ReadUInt64LittleEndian(cap[16..]));
        Assert.Equal(0x2000ul, BinaryPrimitives.ReadUInt64LittleEndian(cap[24..]));
        Assert.Equal(0x8000ul, BinaryPrimitives.ReadUInt64LittleEndian(cap[32..]));
        var type = buf.AsSpan(80);
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(type));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(type[4..])); // last
        Assert.Equal(0x80008086u, BinaryPrimitives.ReadUInt32LittleEndian(type[8..]));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(type[12..]));
    }
}
