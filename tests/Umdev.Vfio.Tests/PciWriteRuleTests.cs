using Umdev.Interop;
using Umdev.Vfio.Pci;

namespace Umdev.Vfio.Tests;

public class PciWriteRuleTests
{
    private static readonly PciConfigLayout Serial = new PciConfigSpaceBuilder()
        .Ids(0x1234, 0x5678).Revision(3).ClassCode(0x07, 0x00, 0x02).Subsystem(0x1af4, 0x1100)
        .Status(0x0200).InterruptPin(1).IoBar(0, 8)
        .Bytes(0x60, "vendor"u8)
        .Build();

    private static byte[] All(PciConfigSpace s)
    {
        var bytes = new byte[s.Size];
        s.Read(0, bytes);
        return bytes;
    }

    [Fact]
    public void Header_fields_sit_at_their_offsets()
    {
        var s = Serial.CreateSpace();
        Assert.Equal(0x1234, s.ReadUInt16(0x00));
        Assert.Equal(0x5678, s.ReadUInt16(0x02));
        Assert.Equal(0x07000203u, s.ReadUInt32(0x08));
        Assert.Equal(0, s.ReadByte(0x0e)); // type 0, single function
        Assert.Equal(0x11001af4u, s.ReadUInt32(0x2c));
        Assert.Equal(1, s.ReadByte(0x3d));
        Assert.Equal((byte)'v', s.ReadByte(0x60));
        Assert.Equal(256, s.Size);
    }

    [Theory]
    [InlineData(0x00)] // ids
    [InlineData(0x08)] // revision and class
    [InlineData(0x0c)] // cache line, latency, header type, BIST
    [InlineData(0x2c)] // subsystem
    [InlineData(0x34)] // capability pointer
    [InlineData(0x60)] // device bytes
    [InlineData(0xfc)]
    public void Read_only_fields_ignore_writes(int offset)
    {
        var s = Serial.CreateSpace();
        var before = All(s);
        s.Write(offset, [0xff, 0xff, 0xff, 0xff]);
        s.Write(offset, [0x00, 0x00, 0x00, 0x00]);
        Assert.Equal(before, All(s));
    }

    [Fact]
    public void Interrupt_line_is_writable_and_pin_is_not()
    {
        var s = Serial.CreateSpace();
        s.Write(0x3c, [0x0a, 0x04, 0x12, 0x34]);
        Assert.Equal(0x0000010au, s.ReadUInt32(0x3c));
    }

    [Fact]
    public void Command_lets_the_guest_change_only_the_decoding_it_has_and_the_usual_bits()
    {
        var s = Serial.CreateSpace();
        s.Write(0x04, [0xff, 0xff]);
        Assert.Equal(0x0545, s.ReadUInt16(0x04)); // I/O, bus master, parity, SERR, INTx disable; no memory BAR, no Mem bit
        var withMemory = new PciConfigSpaceBuilder().MemoryBar(0, 4096).Build().CreateSpace();
        withMemory.Write(0x04, [0xff, 0xff]);
        Assert.Equal(0x0546, withMemory.ReadUInt16(0x04));
        var fixedCommand = new PciConfigSpaceBuilder().Command(0x0001, writable: 0).IoBar(0, 8).Build().CreateSpace();
        fixedCommand.Write(0x04, [0x06, 0x00]);
        Assert.Equal(0x0001, fixedCommand.ReadUInt16(0x04));
    }

    [Fact]
    public void Status_error_bits_clear_when_written_with_one()
    {
        var s = Serial.CreateSpace();
        s.StoreUInt16(0x06, 0xfb0a); // the device reports every error, an interrupt and DEVSEL medium
        s.Write(0x06, [0x00, 0x00]);
        Assert.Equal(0xfb0a, s.ReadUInt16(0x06));
        s.Write(0x06, [0x00, 0x20]); // received master abort only
        Assert.Equal(0xdb0a, s.ReadUInt16(0x06));
        s.Write(0x06, [0xff, 0xff]);
        Assert.Equal(0x020a, s.ReadUInt16(0x06)); // DEVSEL and the interrupt bit are the device's
        s.Write(0x04, [0x00, 0x00, 0x00, 0x02]); // through a dword write at the command register too
        s.StoreUInt16(0x06, 0x8200);
        s.Write(0x04, [0x00, 0x00, 0x00, 0x80]);
        Assert.Equal(0x0200, s.ReadUInt16(0x06));
    }

    [Fact]
    public void A_rule_makes_a_field_writable_with_a_mask_or_clear_on_one()
    {
        var layout = new PciConfigSpaceBuilder()
            .Bytes(0x40, [0x00, 0x00, 0xff, 0xff])
            .Rule(0x40, 2, PciFieldRule.ReadWrite(0x0ff0))
            .Rule(0x42, 2, PciFieldRule.ClearOnWriteOne(0x00ff))
            .Rule(0x0c, 1, PciFieldRule.ReadWrite()) // cache line size
            .Build();
        var s = layout.CreateSpace();
        s.Write(0x40, [0xff, 0xff, 0xff, 0xff]);
        Assert.Equal(0xff000ff0u, s.ReadUInt32(0x40));
        s.Write(0x0c, [0x10]);
        Assert.Equal(0x10, s.ReadByte(0x0c));
    }

    [Fact]
    public void A_hook_gets_the_part_of_a_write_in_its_range_and_the_rest_follows_the_rules()
    {
        var seen = new List<(int Offset, byte[] Data)>();
        var layout = new PciConfigSpaceBuilder()
            .Bytes(0x40, new byte[8])
            .Rule(0x40, 8, PciFieldRule.ReadWrite())
            .Hook(0x42, 2, (space, offset, data) =>
            {
                seen.Add((offset, data.ToArray()));
                space.Store(offset, [0x5a]); // a quirk: whatever is written, the first byte reads 0x5a
            })
            .Build();
        var s = layout.CreateSpace();
        s.Write(0x40, [1, 2, 3, 4, 5, 6]);
        Assert.Equal(0x42, Assert.Single(seen).Offset);
        Assert.Equal(new byte[] { 3, 4 }, seen[0].Data);
        var bytes = new byte[6];
        s.Read(0x40, bytes);
        Assert.Equal(new byte[] { 1, 2, 0x5a, 0, 5, 6 }, bytes);
        s.Write(0x43, [9]);
        Assert.Equal(0x43, seen[^1].Offset);
        Assert.Equal(new byte[] { 9 }, seen[^1].Data);
        Assert.Throws<ArgumentException>(() => new PciConfigSpaceBuilder().Hook(0x40, 4, (_, _, _) => { }).Hook(0x43, 1, (_, _, _) => { }));
    }

    [Theory]
    [InlineData(-1, 1)]
    [InlineData(0x100, 1)]
    [InlineData(0xff, 2)]
    [InlineData(0xfc, 8)]
    [InlineData(0, 257)]
    public void Accesses_outside_config_space_get_EINVAL_and_change_nothing(int offset, int length)
    {
        var s = Serial.CreateSpace();
        var before = All(s);
        var buffer = new byte[length];
        Array.Fill(buffer, (byte)0xff);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => s.Read(offset, buffer)).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => s.Write(offset, buffer)).Errno);
        Assert.Equal(before, All(s));
    }

    [Fact]
    public void Spaces_of_one_layout_are_independent_and_reset_to_it()
    {
        var a = Serial.CreateSpace();
        var b = Serial.CreateSpace();
        a.Write(0x3c, [0x0b]);
        Assert.Equal(0, b.ReadByte(0x3c));
        a.Reset();
        Assert.Equal(All(b), All(a));
    }

    [Fact]
    public void Express_sized_space_reads_zero_past_the_conventional_part()
    {
        var s = new PciConfigSpaceBuilder(PciConfigSpace.ExtendedSize).Ids(1, 2).Build().CreateSpace();
        Assert.Equal(4096, s.Size);
        s.Write(0x100, [0xff, 0xff, 0xff, 0xff]);
        Assert.Equal(0u, s.ReadUInt32(0x100));
        Assert.Equal(0u, s.ReadUInt32(0xffc));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PciConfigSpaceBuilder(512));
    }
}
