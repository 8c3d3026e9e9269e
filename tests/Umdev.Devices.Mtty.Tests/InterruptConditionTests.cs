using Umdev.Vfio;

namespace Umdev.Devices.Mtty.Tests;

/// <summary>mtty.md §8.4: every event that raises the card's interrupt, observed on a real eventfd.</summary>
public class InterruptConditionTests
{
    private const uint RBR = 0, THR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6;

    public static TheoryData<uint> IrqIndexes => new() { VfioPci.IntxIrqIndex, VfioPci.MsiIrqIndex };

    [Theory, MemberData(nameof(IrqIndexes))]
    public void Row1_thr_write_reaching_the_trigger_level_with_rdi(uint irq)
    {
        using var f = new MttyFixture(2);
        f.WriteReg(1, FCR, 0x07);
        f.WriteReg(1, IER, 0x01);
        var e = f.EnableIrq(irq);
        f.WriteReg(1, THR, 0x41);
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
        f.WriteReg(1, IER, 0x00);
        if (irq == VfioPci.IntxIrqIndex) f.Unmask();
        f.WriteReg(1, IER, 0x01);
        f.WriteReg(1, THR, 0x42);                     // count 2 ≠ trigger 1: no event
        MttyFixture.AssertNoSignal(e);
    }

    [Fact]
    public void Row1_no_event_before_the_first_fcr_write()
    {
        using var f = new MttyFixture(1);
        f.WriteReg(0, IER, 0x01);
        var e = f.EnableIrq();
        f.WriteReg(0, THR, 0x41);                     // trigger level 0 is never matched
        MttyFixture.AssertNoSignal(e);
    }

    [Theory, MemberData(nameof(IrqIndexes))]
    public void Row2_thr_write_into_a_full_fifo_with_rlsi(uint irq)
    {
        using var f = new MttyFixture(1);
        f.WriteReg(0, FCR, 0x00);                     // 1-byte FIFO
        f.WriteReg(0, THR, 0x41);
        f.WriteReg(0, IER, 0x04);
        var e = f.EnableIrq(irq);
        f.WriteReg(0, THR, 0x42);
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
        Assert.Equal(0x03, f.ReadReg(0, LSR));
    }

    [Fact]
    public void Row2_no_event_without_rlsi()
    {
        using var f = new MttyFixture(1);
        var e = f.EnableIrq(VfioPci.MsiIrqIndex);
        for (int i = 0; i < 17; i++) f.WriteReg(0, THR, 0x42);
        MttyFixture.AssertNoSignal(e);
    }

    [Theory, MemberData(nameof(IrqIndexes))]
    public void Row3_ier_write_enabling_thri_with_an_empty_fifo(uint irq)
    {
        using var f = new MttyFixture(1);
        var e = f.EnableIrq(irq);
        f.WriteReg(0, IER, 0x02);
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
    }

    [Fact]
    public void Row3_no_event_with_data_in_the_fifo_or_with_dlab()
    {
        using var f = new MttyFixture(1);
        var e = f.EnableIrq(VfioPci.MsiIrqIndex);
        f.WriteReg(0, THR, 0x41);
        f.WriteReg(0, IER, 0x02);
        MttyFixture.AssertNoSignal(e);
        f.ReadReg(0, RBR);                            // row 6 fires here
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
        f.WriteReg(0, IER, 0x00);
        f.WriteReg(0, LCR, 0x80);
        f.WriteReg(0, IER, 0x02);                     // DLM, not IER
        MttyFixture.AssertNoSignal(e);
    }

    [Theory, MemberData(nameof(IrqIndexes))]
    public void Row4_mcr_write_with_out2_and_ier_msi(uint irq)
    {
        using var f = new MttyFixture(1);
        f.WriteReg(0, IER, 0x08);
        var e = f.EnableIrq(irq);
        f.WriteReg(0, MCR, 0x08);
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
    }

    [Theory]
    [InlineData(0x01)]
    [InlineData(0x02)]
    public void Row5_mcr_write_with_rts_or_dtr_and_ier_msi(byte mcr)
    {
        using var f = new MttyFixture(1);
        f.WriteReg(0, IER, 0x08);
        var e = f.EnableIrq(VfioPci.MsiIrqIndex);
        f.WriteReg(0, MCR, mcr);
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
    }

    [Fact]
    public void Rows4_and_5_both_fire_on_one_write_and_automask_swallows_the_second()
    {
        using var msiCard = new MttyFixture(1);
        msiCard.WriteReg(0, IER, 0x08);
        var msi = msiCard.EnableIrq(VfioPci.MsiIrqIndex);
        msiCard.WriteReg(0, MCR, 0x0B);
        Assert.Equal(2UL, MttyFixture.AwaitSignal(msi));

        using var intxCard = new MttyFixture(1);
        intxCard.WriteReg(0, IER, 0x08);
        var intx = intxCard.EnableIrq();
        intxCard.WriteReg(0, MCR, 0x0B);
        Assert.Equal(1UL, MttyFixture.AwaitSignal(intx));
    }

    [Fact]
    public void Rows4_and_5_need_ier_msi()
    {
        using var f = new MttyFixture(1);
        var e = f.EnableIrq(VfioPci.MsiIrqIndex);
        f.WriteReg(0, IER, 0x05);
        f.WriteReg(0, MCR, 0x0B);
        MttyFixture.AssertNoSignal(e);
        f.WriteReg(0, IER, 0x08);
        f.WriteReg(0, MCR, 0x30);                     // neither OUT2 nor RTS/DTR
        MttyFixture.AssertNoSignal(e);
    }

    [Theory, MemberData(nameof(IrqIndexes))]
    public void Row6_rbr_read_emptying_the_fifo_with_thri(uint irq)
    {
        using var f = new MttyFixture(1);
        f.WriteReg(0, THR, 0x41);
        f.WriteReg(0, THR, 0x42);
        f.WriteReg(0, IER, 0x02);                     // FIFO not empty: no event
        var e = f.EnableIrq(irq);
        f.ReadReg(0, RBR);
        MttyFixture.AssertNoSignal(e);
        f.ReadReg(0, RBR);
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
    }

    [Fact]
    public void Row6_also_fires_when_reading_an_already_empty_fifo()
    {
        using var f = new MttyFixture(1);
        f.WriteReg(0, IER, 0x02);
        var e = f.EnableIrq(VfioPci.MsiIrqIndex);
        f.ReadReg(0, RBR);
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
        f.ReadReg(0, RBR);
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
    }

    [Theory, MemberData(nameof(IrqIndexes))]
    public void Row7_loopback_trigger_from_user_space(uint irq)
    {
        using var f = new MttyFixture(1);
        var e = f.EnableIrq(irq);
        f.Loopback(irq);
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
        if (irq == VfioPci.IntxIrqIndex) f.Unmask();
        f.SetIrqs(VfioIrqSetFlags.DataBool | VfioIrqSetFlags.ActionTrigger, irq, data: [1]);
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
        if (irq == VfioPci.IntxIrqIndex) f.Unmask();
        f.SetIrqs(VfioIrqSetFlags.DataBool | VfioIrqSetFlags.ActionTrigger, irq, data: [0]);
        MttyFixture.AssertNoSignal(e);
    }

    [Fact]
    public void Nothing_else_raises_an_interrupt()
    {
        using var f = new MttyFixture(2);
        f.WriteReg(0, IER, 0x0F);                     // fires row 3 once
        var e = f.EnableIrq(VfioPci.MsiIrqIndex);
        f.ReadReg(0, LSR);
        f.ReadReg(0, MSR);
        f.ReadReg(0, IIR);
        f.ReadReg(0, MCR);
        f.WriteReg(0, FCR, 0x07);
        f.WriteReg(0, LCR, 0x03);
        f.WriteReg(0, 7, 0x11);
        f.WriteReg(0, LSR, 0x11);
        f.WriteReg(0, MSR, 0x11);
        f.WriteConfig(0x3C, 0x0A);
        f.ReadConfig(0, 256);
        MttyFixture.AssertNoSignal(e);
    }

    [Fact]
    public void Ports_share_the_one_interrupt()
    {
        using var f = new MttyFixture(2);
        var e = f.EnableIrq(VfioPci.MsiIrqIndex);
        f.WriteReg(0, IER, 0x02);
        f.WriteReg(1, IER, 0x02);
        Assert.Equal(2UL, MttyFixture.AwaitSignal(e));
    }

    [Fact]
    public void No_irq_mode_drops_events()
    {
        using var f = new MttyFixture(1);
        var e = f.NewEventFd();
        f.WriteReg(0, IER, 0x02);
        f.SetTrigger(VfioPci.IntxIrqIndex, e);
        MttyFixture.AssertNoSignal(e);
    }
}
