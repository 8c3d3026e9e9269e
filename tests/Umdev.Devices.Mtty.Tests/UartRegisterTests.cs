using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.Devices.Mtty.Tests;

/// <summary>mtty.md §8.2, §8.3 and §8.5–§8.8: every register read and write, on every port.</summary>
public class UartRegisterTests
{
    public static TheoryData<int, uint> Ports => new() { { 1, 0 }, { 2, 0 }, { 2, 1 } };

    private const uint RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

    [Theory, MemberData(nameof(Ports))]
    public void Idle_port_reads(int ports, uint port)
    {
        using var f = new MttyFixture(ports);
        Assert.Equal(0x00, f.ReadReg(port, RBR));
        Assert.Equal(0x00, f.ReadReg(port, IER));
        Assert.Equal(0xC1, f.ReadReg(port, IIR));
        Assert.Equal(0x00, f.ReadReg(port, LCR));
        Assert.Equal(0x00, f.ReadReg(port, MCR));
        Assert.Equal(0x60, f.ReadReg(port, LSR));
        Assert.Equal(0xB3, f.ReadReg(port, MSR));
        Assert.Equal(0x00, f.ReadReg(port, SCR));
    }

    [Theory, MemberData(nameof(Ports))]
    public void Thr_write_and_rbr_read_loop_bytes_back_in_order(int ports, uint port)
    {
        using var f = new MttyFixture(ports);
        f.WriteReg(port, THR, (byte)'h');
        f.WriteReg(port, THR, (byte)'i');
        Assert.Equal(0x01, f.ReadReg(port, LSR));
        Assert.Equal((byte)'h', f.ReadReg(port, RBR));
        Assert.Equal((byte)'i', f.ReadReg(port, RBR));
        Assert.Equal(0x60, f.ReadReg(port, LSR));
        Assert.Equal(0x00, f.ReadReg(port, RBR)); // empty FIFO reads 0 (the sample leaves garbage)
    }

    [Fact]
    public void Ports_of_a_dual_card_are_independent()
    {
        using var f = new MttyFixture(2);
        f.WriteReg(0, THR, 0x41);
        f.WriteReg(1, SCR, 0x99);
        Assert.Equal(0x60, f.ReadReg(1, LSR));
        Assert.Equal(0x00, f.ReadReg(0, SCR));
        Assert.Equal(0x41, f.ReadReg(0, RBR));
        Assert.Equal(0x99, f.ReadReg(1, SCR));
    }

    [Theory, MemberData(nameof(Ports))]
    public void Divisor_latch_with_dlab(int ports, uint port)
    {
        using var f = new MttyFixture(ports);
        f.WriteReg(port, LCR, 0x83);
        Assert.Equal(0x83, f.ReadReg(port, LCR));
        f.WriteReg(port, DLL, 0x0C);
        f.WriteReg(port, DLM, 0x01);
        Assert.Equal(0x0C, f.ReadReg(port, DLL));
        Assert.Equal(0x01, f.ReadReg(port, DLM));
        Assert.Equal(0x60, f.ReadReg(port, LSR)); // DLL write did not reach the FIFO
        f.WriteReg(port, LCR, 0x03);
        Assert.Equal(0x03, f.ReadReg(port, LCR));
        Assert.Equal(0x00, f.ReadReg(port, IER)); // DLM write did not reach IER
        Assert.Equal(0x00, f.ReadReg(port, RBR));
        f.WriteReg(port, LCR, 0x83);              // setting DLAB clears the divisor
        Assert.Equal(0x00, f.ReadReg(port, DLL));
        Assert.Equal(0x00, f.ReadReg(port, DLM));
    }

    [Fact]
    public void Divisor_writes_or_into_the_latch()
    {
        using var f = new MttyFixture(1);
        f.WriteReg(0, LCR, 0x80);
        f.WriteReg(0, DLL, 0x01);
        f.WriteReg(0, DLL, 0x02);
        f.WriteReg(0, DLM, 0x10);
        f.WriteReg(0, DLM, 0x20);
        Assert.Equal(0x03, f.ReadReg(0, DLL));
        Assert.Equal(0x30, f.ReadReg(0, DLM));
        f.WriteReg(0, LCR, 0x00);                 // clearing DLAB keeps the divisor
        f.WriteReg(0, LCR, 0x00);
        f.WriteReg(0, LCR, 0x00);
        Assert.Equal(0x00, f.ReadReg(0, LCR));
    }

    [Fact]
    public void Ier_stores_8_bits_and_reads_the_low_nibble()
    {
        using var f = new MttyFixture(1);
        f.WriteReg(0, IER, 0xF4);
        Assert.Equal(0x04, f.ReadReg(0, IER));
    }

    [Fact]
    public void Iir_reads_the_same_with_dlab()
    {
        using var f = new MttyFixture(1);
        f.WriteReg(0, IER, 0x02);
        f.WriteReg(0, LCR, 0x80);
        Assert.Equal(0xC2, f.ReadReg(0, IIR));
    }

    [Theory]
    [InlineData(0x00)]
    [InlineData(0xFF)]
    [InlineData(0x3B)]
    public void Mcr_lcr_scr_store_every_bit(byte value)
    {
        using var f = new MttyFixture(1);
        f.WriteReg(0, MCR, value);
        f.WriteReg(0, SCR, value);
        f.WriteReg(0, LCR, (byte)(value & 0x7F));
        Assert.Equal(value, f.ReadReg(0, MCR));
        Assert.Equal(value, f.ReadReg(0, SCR));
        Assert.Equal((byte)(value & 0x7F), f.ReadReg(0, LCR));
    }

    [Fact]
    public void Scr_is_reachable_with_dlab()
    {
        using var f = new MttyFixture(1);
        f.WriteReg(0, LCR, 0x80);
        f.WriteReg(0, SCR, 0x5A);
        Assert.Equal(0x5A, f.ReadReg(0, SCR));
    }

    [Fact]
    public void Lsr_and_msr_ignore_writes()
    {
        using var f = new MttyFixture(1);
        f.WriteReg(0, LSR, 0xFF);
        f.WriteReg(0, MSR, 0x00);
        Assert.Equal(0x60, f.ReadReg(0, LSR));
        Assert.Equal(0xB3, f.ReadReg(0, MSR));
    }

    [Fact]
    public void Full_fifo_holds_16_bytes_and_does_not_read_as_empty()
    {
        using var f = new MttyFixture(1);
        for (int i = 0; i < 16; i++) f.WriteReg(0, THR, (byte)(0x30 + i));
        Assert.Equal(0x01, f.ReadReg(0, LSR));        // data ready, THR not empty, no overrun
        f.WriteReg(0, IER, 0x02);
        Assert.Equal(0xC1, f.ReadReg(0, IIR));        // not "THR empty"
        f.WriteReg(0, THR, 0x99);                     // 17th byte is dropped
        Assert.Equal(0x03, f.ReadReg(0, LSR));        // overrun
        for (int i = 0; i < 16; i++) Assert.Equal((byte)(0x30 + i), f.ReadReg(0, RBR));
        Assert.Equal(0x62, f.ReadReg(0, LSR));        // empty; overrun sticky across RBR reads
        f.WriteReg(0, THR, 0x01);                     // accepted THR write clears overrun
        Assert.Equal(0x01, f.ReadReg(0, LSR));
    }

    [Fact]
    public void Fifo_wraps_around()
    {
        using var f = new MttyFixture(1);
        for (int round = 0; round < 5; round++)
        {
            for (int i = 0; i < 7; i++) f.WriteReg(0, THR, (byte)(round * 10 + i));
            for (int i = 0; i < 7; i++) Assert.Equal((byte)(round * 10 + i), f.ReadReg(0, RBR));
        }
        Assert.Equal(0x60, f.ReadReg(0, LSR));
    }

    [Fact]
    public void Fcr_clear_empties_the_fifo_but_keeps_overrun()
    {
        using var f = new MttyFixture(1);
        for (int i = 0; i < 17; i++) f.WriteReg(0, THR, (byte)i);
        f.WriteReg(0, FCR, 0x02);                     // clear RX
        Assert.Equal(0x62, f.ReadReg(0, LSR));
        f.WriteReg(0, THR, 0x07);
        f.WriteReg(0, FCR, 0x05);                     // clear TX, FIFO on
        Assert.Equal(0x60, f.ReadReg(0, LSR));
        Assert.Equal(0x00, f.ReadReg(0, RBR));
    }

    [Fact]
    public void Fcr_without_enable_makes_a_one_byte_fifo()
    {
        using var f = new MttyFixture(1);
        f.WriteReg(0, FCR, 0x00);
        f.WriteReg(0, THR, 0x11);
        f.WriteReg(0, THR, 0x22);
        Assert.Equal(0x03, f.ReadReg(0, LSR));
        Assert.Equal(0x11, f.ReadReg(0, RBR));
        f.WriteReg(0, FCR, 0x01);                     // enable again: 16 bytes
        for (int i = 0; i < 16; i++) f.WriteReg(0, THR, (byte)i);
        Assert.Equal(0x01, f.ReadReg(0, LSR));
    }

    [Theory]
    [InlineData(0xC1)] // trigger bits 7:6 = 14 bytes, still 1
    [InlineData(0x81)] // 8 bytes
    [InlineData(0x41)] // 4 bytes
    [InlineData(0x01)] // 1 byte
    public void Fcr_trigger_level_is_always_1(byte fcr)
    {
        using var f = new MttyFixture(1);
        f.WriteReg(0, FCR, fcr);
        f.WriteReg(0, IER, 0x01);
        Assert.Equal(0xC1, f.ReadReg(0, IIR));
        f.WriteReg(0, THR, 0x55);
        Assert.Equal(0xC4, f.ReadReg(0, IIR));
    }

    [Fact]
    public void Trigger_level_is_0_until_the_first_fcr_write()
    {
        using var f = new MttyFixture(1);
        f.WriteReg(0, IER, 0x01);
        Assert.Equal(0xC4, f.ReadReg(0, IIR));        // "data" with an empty FIFO
        f.WriteReg(0, IER, 0x03);
        Assert.Equal(0xC6, f.ReadReg(0, IIR));        // data and THR-empty ORed
    }

    [Theory]
    [InlineData(0x04, true, false, 0xC6)]  // RLSI + overrun
    [InlineData(0x04, false, false, 0xC1)]
    [InlineData(0x01, false, true, 0xC4)]  // RDI + count ≥ trigger
    [InlineData(0x01, false, false, 0xC1)]
    [InlineData(0x02, false, false, 0xC2)] // THRI + empty
    [InlineData(0x02, false, true, 0xC1)]
    [InlineData(0x08, false, false, 0xC1)] // MSI + RTS/DTR: id 0, invisible
    [InlineData(0x07, true, false, 0xC6)]
    [InlineData(0x00, true, true, 0xC1)]
    public void Iir_conditions(byte ier, bool overrun, bool data, byte expected)
    {
        using var f = new MttyFixture(1);
        f.WriteReg(0, FCR, 0x01);
        f.WriteReg(0, MCR, 0x03);
        if (overrun)
        {
            for (int i = 0; i < 17; i++) f.WriteReg(0, THR, 0);
            f.WriteReg(0, FCR, 0x03);
        }
        if (data) f.WriteReg(0, THR, 0x41);
        f.WriteReg(0, IER, ier);
        Assert.Equal(expected, f.ReadReg(0, IIR));
        Assert.Equal(expected, f.ReadReg(0, IIR)); // no side effect
    }

    [Theory]
    [InlineData(0x00, 0, 0xB3)]
    [InlineData(0x20, 0, 0xB3)]   // AFE with room: CTS
    [InlineData(0x20, 15, 0xB3)]
    [InlineData(0x20, 16, 0xA2)]  // AFE and FIFO full: no CTS
    [InlineData(0x00, 16, 0xB3)]
    [InlineData(0x10, 0, 0xB3)]   // LOOP ignored
    public void Msr(byte mcr, int bytes, byte expected)
    {
        using var f = new MttyFixture(1);
        for (int i = 0; i < bytes; i++) f.WriteReg(0, THR, (byte)i);
        f.WriteReg(0, MCR, mcr);
        Assert.Equal(expected, f.ReadReg(0, MSR));
    }

    [Fact]
    public void Msr_with_afe_uses_the_one_byte_fifo_size()
    {
        using var f = new MttyFixture(1);
        f.WriteReg(0, FCR, 0x00);
        f.WriteReg(0, MCR, 0x20);
        Assert.Equal(0xB3, f.ReadReg(0, MSR));
        f.WriteReg(0, THR, 1);
        Assert.Equal(0xA2, f.ReadReg(0, MSR));
    }

    [Fact]
    public void Offsets_past_the_registers_are_refused_before_the_port_sees_them()
    {
        // The sample ignores such writes and reads 0; the model refuses accesses outside the 8-byte BAR.
        using var f = new MttyFixture(1);
        Errnos.Expect(Errno.EINVAL, () => f.File.WriteRegion(0, 8, [0x41]));
        Errnos.Expect(Errno.EINVAL, () => f.File.WriteRegion(0, 0x1000, [0x41]));
        Errnos.Expect(Errno.EINVAL, () => f.File.ReadRegion(0, 0xFFFF, new byte[1]));
        Errnos.Expect(Errno.EINVAL, () => f.File.ReadRegion(0, 7, new byte[2]));
        Assert.Equal(0x60, f.ReadReg(0, LSR));         // nothing reached the UART
        Assert.Equal(0x00, f.ReadReg(0, RBR));
    }

    [Fact]
    public void Bar1_of_a_single_port_card_is_refused()
    {
        // The sample reaches a second port's state the card does not have; BAR1 is empty here (size 0).
        using var f = new MttyFixture(1);
        Errnos.Expect(Errno.EINVAL, () => f.File.WriteRegion(1, SCR, [0x42]));
        Errnos.Expect(Errno.EINVAL, () => f.File.ReadRegion(1, SCR, new byte[1]));
        Assert.Equal(0x00, f.ReadReg(0, SCR));
    }
}
