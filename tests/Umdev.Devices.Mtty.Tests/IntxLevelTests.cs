using Umdev.Vfio;

namespace Umdev.Devices.Mtty.Tests;

/// <summary>
/// The fix of mtty.md §13 note 9: INTx is a level. An unmask while a port's IIR shows an enabled
/// condition signals again an event the mask swallowed (default) or, with <c>intx=level</c>, any
/// condition still shown; without such a condition it does nothing.
/// </summary>
public class IntxLevelTests
{
    private const uint RBR = 0, THR = 0, IER = 1, FCR = 2;

    [Fact]
    public void Events_lost_while_masked_are_delivered_on_unmask_while_the_condition_holds()
    {
        using var f = new MttyFixture(2);
        f.WriteReg(1, FCR, 0x07);
        var e = f.EnableIrq();
        f.WriteReg(1, IER, 0x03);                     // THR empty: signal, masked
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
        f.WriteReg(1, THR, 0x41);                     // data at trigger level: raised while masked
        MttyFixture.AssertNoSignal(e);
        f.Unmask();                                   // IIR shows data: signal again
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
        f.Loopback();                                 // and auto-masked again
        MttyFixture.AssertNoSignal(e);
        Assert.Equal(0x41, f.ReadReg(1, RBR));        // FIFO now empty with THRI: raised while masked
        f.Unmask();
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
        f.WriteReg(1, IER, 0x00);                     // no enabled condition left
        f.Unmask();
        MttyFixture.AssertNoSignal(e);
        f.Loopback();                                 // the line was left unmasked
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
    }

    [Fact]
    public void Unmask_bool_also_reasserts()
    {
        using var f = new MttyFixture(1);
        var e = f.EnableIrq();
        f.WriteReg(0, IER, 0x02);
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
        f.WriteReg(0, IER, 0x02);                     // THR empty again: raised while masked
        MttyFixture.AssertNoSignal(e);
        f.SetIrqs(VfioIrqSetFlags.DataBool | VfioIrqSetFlags.ActionUnmask, VfioPci.IntxIrqIndex, data: [1]);
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
        f.SetIrqs(VfioIrqSetFlags.DataBool | VfioIrqSetFlags.ActionUnmask, VfioPci.IntxIrqIndex, data: [0]);
        MttyFixture.AssertNoSignal(e);
    }

    [Fact]
    public void The_level_clears_when_the_condition_is_read_away()
    {
        using var f = new MttyFixture(1);
        f.WriteReg(0, FCR, 0x07);
        f.WriteReg(0, IER, 0x01);                     // received data available
        var e = f.EnableIrq();
        f.WriteReg(0, THR, 0x41);                     // loops back: raises
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
        f.ReadReg(0, RBR);                            // the FIFO empties: the condition is gone
        f.Unmask();                                   // so the unmask does not re-assert the line
        MttyFixture.AssertNoSignal(e);
    }

    [Fact]
    public void Level_option_reasserts_an_overrun_until_cleared_by_a_write()
    {
        using var f = new MttyFixture(1, options: new MttyOptions(IntxUnmask: VfioIntxUnmask.Level));
        f.WriteReg(0, FCR, 0x00);
        f.WriteReg(0, IER, 0x04);
        var e = f.EnableIrq();
        f.WriteReg(0, THR, 1);
        f.WriteReg(0, THR, 2);                        // overrun
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
        f.Unmask();
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
        f.ReadReg(0, RBR);
        f.WriteReg(0, THR, 3);                        // accepted: overrun cleared
        f.Unmask();
        MttyFixture.AssertNoSignal(e);
    }
}
