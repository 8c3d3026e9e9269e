using System.Buffers.Binary;
using Umdev.Vfio.Pci;

namespace Umdev.Vfio.Tests;

public class PciCapabilityTests
{
    private static PciConfigLayout ThreeCapabilities() => new PciConfigSpaceBuilder()
        .Ids(0x1af4, 0x1042)
        .MemoryBar(0, 0x4000)
        .Msi(vectors: 4, is64Bit: true, perVectorMasking: true)
        .MsiX(tableSize: 3, tableBar: 0, tableOffset: 0x2000, pbaBar: 0, pbaOffset: 0x3000)
        .VendorCapability([0x01, 0x00, 0x00, 0x00, 0x00])
        .Build();

    /// <summary>Walks the chain as a guest does, from status bit 4 and the pointer at 0x34.</summary>
    private static List<(byte Id, int Offset)> Walk(PciConfigSpace s)
    {
        var found = new List<(byte, int)>();
        if ((s.ReadUInt16(0x06) & 0x10) == 0) return found;
        for (int at = s.ReadByte(0x34); at != 0; at = s.ReadByte(at + 1))
        {
            Assert.True(at >= 0x40 && at % 4 == 0, $"capability at 0x{at:x}");
            Assert.True(found.Count < 48, "the chain loops");
            found.Add((s.ReadByte(at), at));
        }
        return found;
    }

    [Fact]
    public void Capabilities_are_chained_in_declaration_order_without_overlap()
    {
        var layout = ThreeCapabilities();
        var chain = Walk(layout.CreateSpace());
        Assert.Equal(new byte[] { 0x05, 0x11, 0x09 }, chain.Select(c => c.Id));
        Assert.Equal(layout.Capabilities.Select(c => c.Offset), chain.Select(c => c.Offset));
        var caps = layout.Capabilities.OrderBy(c => c.Offset).ToList();
        for (int i = 1; i < caps.Count; i++) Assert.True(caps[i - 1].Offset + caps[i - 1].Length <= caps[i].Offset);
        Assert.Equal(24, layout.FindCapability(PciCapabilityId.Msi)!.Value.Length);
        Assert.Equal(12, layout.FindCapability(PciCapabilityId.MsiX)!.Value.Length);
        Assert.Equal(8, layout.FindCapability(PciCapabilityId.VendorSpecific)!.Value.Length);
    }

    [Fact]
    public void Without_capabilities_the_list_is_absent()
    {
        var s = new PciConfigSpaceBuilder().Ids(1, 2).Build().CreateSpace();
        Assert.Equal(0, s.ReadUInt16(0x06) & 0x10);
        Assert.Equal(0, s.ReadByte(0x34));
        Assert.Empty(Walk(s));
    }

    [Fact]
    public void Capabilities_go_where_asked_and_around_device_bytes()
    {
        var layout = new PciConfigSpaceBuilder()
            .Bytes(0x40, new byte[8])
            .VendorCapability([0xaa], at: 0x80)
            .Msi(vectors: 1, is64Bit: false)
            .Build();
        Assert.Equal(new (byte, int)[] { (0x09, 0x80), (0x05, 0x48) }, Walk(layout.CreateSpace()));
        Assert.Throws<ArgumentException>(() => new PciConfigSpaceBuilder().Bytes(0x40, new byte[4]).Msi(at: 0x40));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PciConfigSpaceBuilder().Msi(at: 0x42));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PciConfigSpaceBuilder().Msi(at: 0x3c));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PciConfigSpaceBuilder().MsiX(1, 0, 0, 0, 0x100, at: 0xf8));
    }

    [Fact]
    public void Msi_control_offers_its_vectors_and_lets_the_guest_enable_and_program_it()
    {
        var layout = ThreeCapabilities();
        var s = layout.CreateSpace();
        int at = layout.FindCapability(PciCapabilityId.Msi)!.Value.Offset;
        Assert.Equal(0x0184, s.ReadUInt16(at + 2)); // per-vector masking, 64-bit, 4 vectors capable (2 << 1)
        s.Write(at + 2, [0xff, 0xff]);
        Assert.Equal(0x01f5, s.ReadUInt16(at + 2)); // enable and multiple-message enable (bits 6:4) change, nothing else
        s.Write(at + 4, [0xff, 0xff, 0xff, 0xff, 0x12, 0x34, 0x56, 0x78, 0xcd, 0xab]);
        Assert.Equal(0xfffffffcu, s.ReadUInt32(at + 4)); // the address is dword aligned
        Assert.Equal(0x78563412u, s.ReadUInt32(at + 8));
        Assert.Equal(0xabcd, s.ReadUInt16(at + 12));
        s.Write(at + 16, [0xff, 0xff, 0xff, 0xff]);
        Assert.Equal(0xfu, s.ReadUInt32(at + 16)); // one mask bit per vector
        s.Write(at + 20, [0xff, 0xff, 0xff, 0xff]);
        Assert.Equal(0u, s.ReadUInt32(at + 20)); // pending bits belong to the device
    }

    [Fact]
    public void Msi_32bit_without_masking_is_ten_bytes_with_data_at_8()
    {
        var layout = new PciConfigSpaceBuilder().Msi(vectors: 32, is64Bit: false).Build();
        var cap = layout.FindCapability(PciCapabilityId.Msi)!.Value;
        Assert.Equal(10, cap.Length);
        var s = layout.CreateSpace();
        Assert.Equal(0x000a, s.ReadUInt16(cap.Offset + 2)); // 32 vectors capable, 32-bit
        s.Write(cap.Offset + 8, [0x34, 0x12]);
        Assert.Equal(0x1234, s.ReadUInt16(cap.Offset + 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PciConfigSpaceBuilder().Msi(vectors: 3));
    }

    [Fact]
    public void MsiX_describes_table_and_pba_and_lets_the_guest_enable_and_mask()
    {
        var layout = ThreeCapabilities();
        var s = layout.CreateSpace();
        int at = layout.FindCapability(PciCapabilityId.MsiX)!.Value.Offset;
        Assert.Equal(2, s.ReadUInt16(at + 2));           // table size - 1
        Assert.Equal(0x2000u, s.ReadUInt32(at + 4));     // offset | BIR 0
        Assert.Equal(0x3000u, s.ReadUInt32(at + 8));
        s.Write(at + 2, [0xff, 0xff]);
        Assert.Equal(0xc002, s.ReadUInt16(at + 2));      // enable and function mask only
        s.Write(at + 4, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        Assert.Equal(0x2000u, s.ReadUInt32(at + 4));
        Assert.Equal(0x3000u, s.ReadUInt32(at + 8));
    }

    [Fact]
    public void MsiX_structures_must_lie_in_a_memory_bar()
    {
        Assert.Throws<ArgumentException>(() => new PciConfigSpaceBuilder().IoBar(0, 256).MsiX(1, 0, 0, 0, 0x10).Build());
        Assert.Throws<ArgumentException>(() => new PciConfigSpaceBuilder().MemoryBar(0, 0x100).MsiX(16, 0, 0, 0, 0x100).Build()); // PBA past the end
        Assert.Throws<ArgumentException>(() => new PciConfigSpaceBuilder().MemoryBar(0, 0x1000).MsiX(16, 0, 0, 0, 0x80).Build()); // PBA inside the table
        Assert.Throws<ArgumentException>(() => new PciConfigSpaceBuilder().MemoryBar(0, 0x1000).MsiX(1, 2, 0, 0, 0x80).Build()); // no BAR 2
        Assert.Throws<ArgumentOutOfRangeException>(() => new PciConfigSpaceBuilder().MsiX(1, 0, 4, 0, 0x80)); // offsets are 8-byte aligned
        Assert.Throws<ArgumentOutOfRangeException>(() => new PciConfigSpaceBuilder().MsiX(2049, 0, 0, 0, 0x8000));
        // In the upper BAR of a 64-bit pair's low slot it is fine.
        new PciConfigSpaceBuilder().MemoryBar(2, 0x10000, is64Bit: true).MsiX(2048, 2, 0, 2, 0x8000).Build();
    }

    [Fact]
    public void Vendor_capability_carries_its_length_and_raw_bytes_read_only()
    {
        var layout = ThreeCapabilities();
        var s = layout.CreateSpace();
        int at = layout.FindCapability(PciCapabilityId.VendorSpecific)!.Value.Offset;
        var bytes = new byte[8];
        s.Read(at, bytes);
        Assert.Equal(new byte[] { 0x09, 0x00, 0x08, 0x01, 0x00, 0x00, 0x00, 0x00 }, bytes);
        s.Write(at, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        var after = new byte[8];
        s.Read(at, after);
        Assert.Equal(bytes, after);
        Assert.Throws<ArgumentOutOfRangeException>(() => new PciConfigSpaceBuilder().VendorCapability(new byte[253]));
    }
}
