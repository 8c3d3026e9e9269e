using Umdev.Core;
using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.Devices.Mtty.Tests;

/// <summary>
/// Issue 9: what an INTx unmask signals while a port still shows a condition. QEMU without KVM's
/// resampler unmasks at the first BAR access after each interrupt; the guest's 8250 handler then keeps
/// accessing the port while its condition holds. The default signals again only events the mask
/// swallowed; <c>intx=level</c> signals at every such unmask; <c>intx=sample</c> never does.
/// </summary>
public class IntxUnmaskTests
{
    private const uint RBR = 0, THR = 0, IER = 1, FCR = 2;

    private static MttyFixture Card(VfioIntxUnmask? unmask) =>
        new(1, options: unmask is { } u ? new MttyOptions(IntxUnmask: u) : null);

    /// <summary>
    /// A 16-byte burst as the 8250 driver writes it, with an unmask after every access as QEMU's EOI
    /// emulation sends it: the signals the card makes (the first write raises received-data).
    /// </summary>
    private static int SignalsOverABurst(MttyFixture f, EventFd e)
    {
        f.WriteReg(0, FCR, 0x07);
        f.WriteReg(0, IER, 0x05);                     // received data, line status; no THR empty
        int signals = 0;
        for (int i = 0; i < 16; i++)
        {
            f.WriteReg(0, THR, (byte)i);
            signals += e.Consume() > 0 ? 1 : 0;
            f.Unmask();
            signals += e.Consume() > 0 ? 1 : 0;
        }
        for (int i = 0; i < 16; i++)
        {
            Assert.Equal(i, f.ReadReg(0, RBR));
            f.Unmask();
            signals += e.Consume() > 0 ? 1 : 0;
        }
        return signals;
    }

    [Fact]
    public void Default_signals_a_burst_once_though_every_access_unmasks()
    {
        using var f = Card(null);
        var e = f.EnableIrq();
        Assert.Equal(1, SignalsOverABurst(f, e));
    }

    [Fact]
    public void Level_option_signals_at_every_unmask_while_data_is_pending()
    {
        using var f = Card(VfioIntxUnmask.Level);
        var e = f.EnableIrq();
        // The first write's event, then one per unmask while the FIFO holds data: 16 after the writes
        // and 15 after the reads that leave data behind.
        Assert.Equal(1 + 16 + 15, SignalsOverABurst(f, e));
    }

    [Fact]
    public void Default_signals_at_unmask_an_event_raised_while_masked()
    {
        using var f = Card(null);
        f.WriteReg(0, FCR, 0x07);
        var e = f.EnableIrq();
        f.WriteReg(0, IER, 0x01);
        f.WriteReg(0, THR, 0x41);                     // received data: signal, auto-masked
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
        f.WriteReg(0, IER, 0x03);                     // THR empty enabled with data pending: no event
        Assert.Equal(0x41, f.ReadReg(0, RBR));        // the FIFO empties with THRI on: raised while masked
        MttyFixture.AssertNoSignal(e);
        f.Unmask();                                   // THR empty still shown: delivered now
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
        f.Unmask();                                   // delivered once: the next unmask is quiet
        MttyFixture.AssertNoSignal(e);
    }

    [Fact]
    public void Default_forgets_an_event_whose_condition_went_away_before_the_unmask()
    {
        using var f = Card(null);
        f.WriteReg(0, FCR, 0x07);
        var e = f.EnableIrq();
        f.WriteReg(0, IER, 0x02);                     // THR empty: signal, auto-masked
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
        f.WriteReg(0, IER, 0x02);                     // raised again while masked
        f.WriteReg(0, IER, 0x00);                     // then nothing is enabled
        f.Unmask();
        MttyFixture.AssertNoSignal(e);
        f.WriteReg(0, IER, 0x02);                     // unmasked: a new event signals at once
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
    }

    [Fact]
    public void Sample_option_loses_an_event_raised_while_masked()
    {
        using var f = Card(VfioIntxUnmask.Never);
        f.WriteReg(0, FCR, 0x07);
        var e = f.EnableIrq();
        f.WriteReg(0, IER, 0x01);
        f.WriteReg(0, THR, 0x41);
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
        f.WriteReg(0, IER, 0x03);
        f.ReadReg(0, RBR);                            // THR empty raised while masked: lost
        f.Unmask();
        MttyFixture.AssertNoSignal(e);
        Assert.Equal(0xC2, f.ReadReg(0, 2));          // though the IIR still shows it
    }

    [Theory]
    [InlineData("", VfioIntxUnmask.Pending)]
    [InlineData("intx=pending", VfioIntxUnmask.Pending)]
    [InlineData("intx=level", VfioIntxUnmask.Level)]
    [InlineData("intx=sample", VfioIntxUnmask.Never)]
    public void Parent_option_intx_selects_the_behaviour(string text, VfioIntxUnmask expected)
    {
        var plugin = new MttyParentPlugin();
        var core = new MdevCore();
        var parent = plugin.Register(core, MdevParentOptions.Parse(plugin, text));
        try
        {
            Assert.Equal(expected, ((MttyDriver)parent.Driver).Options.IntxUnmask);
        }
        finally
        {
            plugin.Unregister(core, parent);
        }
    }

    [Fact]
    public void Parent_option_intx_refuses_other_values_naming_the_option()
    {
        var plugin = new MttyParentPlugin();
        var e = Assert.Throws<MdevParentOptionException>(() => plugin.Register(new MdevCore(), MdevParentOptions.Parse(plugin, "intx=edge")));
        Assert.Contains("intx", e.Message);
        Assert.Contains("'edge'", e.Message);
        Assert.Contains("pending, level, sample", e.Message);
    }
}
