using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.Devices.Mtty.Tests;

/// <summary>mtty.md §10: open, close, reset and removal.</summary>
public class LifecycleTests
{
    private const uint RBR = 0, THR = 0, IER = 1, LCR = 3, SCR = 7;

    [Fact]
    public void Close_releases_eventfds_while_uart_and_config_state_persist()
    {
        using var f = new MttyFixture(2);
        var e = f.EnableIrq();
        var id = EventFdProbe.Identity(e);
        e.Dispose();
        f.WriteReg(1, THR, 0x5A);
        f.WriteReg(0, SCR, 0x11);
        f.WriteReg(0, LCR, 0x83);
        f.WriteConfig(0x10, 0x50, 0xC1, 0, 0);
        Assert.Equal(id, EventFdProbe.Identity(id.Fd));
        f.Reopen();                                    // last close, then a new open
        Assert.NotEqual(id, EventFdProbe.Identity(id.Fd));
        Errnos.Expect(Errno.EINVAL, () => f.Loopback()); // IRQ mode none after close
        Assert.Equal(0x5A, f.ReadReg(1, RBR));
        Assert.Equal(0x11, f.ReadReg(0, SCR));
        Assert.Equal(0x83, f.ReadReg(0, LCR));
        Assert.Equal(0xC151u, f.ReadConfig32(0x10));
        var again = f.EnableIrq(VfioPci.MsiIrqIndex);    // GET_INFO cache survives: no new GET_INFO needed
        f.Loopback(VfioPci.MsiIrqIndex);
        MttyFixture.AwaitSignal(again);
    }

    [Fact]
    public void Only_the_last_close_releases()
    {
        using var f = new MttyFixture(1);
        var e = f.EnableIrq();
        using (f.Core.OpenVfio(f.Mdev.Name)) { }
        f.Loopback();
        MttyFixture.AwaitSignal(e);
        Assert.Equal(1, f.File.Device.OpenCount);
    }

    [Fact]
    public void Reset_keeps_uart_config_and_irq_setup()
    {
        using var f = new MttyFixture(1);
        var e = f.EnableIrq();
        f.WriteReg(0, THR, 0x33);
        f.WriteReg(0, IER, 0x05);
        f.WriteConfig(0x3C, 0x0A);
        f.File.Reset();
        Assert.Equal(0x05, f.ReadReg(0, IER));
        Assert.Equal(0x0A, f.ReadConfig(0x3C, 1)[0]);
        Assert.Equal(0x33, f.ReadReg(0, RBR));
        f.Loopback();
        MttyFixture.AwaitSignal(e);
    }

    [Fact]
    public void Removal_releases_the_eventfds_and_closes_the_device_for_new_opens()
    {
        var f = new MttyFixture(1);
        var e = f.EnableIrq();
        var id = EventFdProbe.Identity(e);
        e.Dispose();
        f.Core.Remove(f.Mdev);
        Assert.NotEqual(id, EventFdProbe.Identity(id.Fd));
        Errnos.Expect(Errno.ENODEV, () => f.Core.OpenVfio(f.Mdev.Name));
        // A user still holding the removed device can no longer reach it.
        var late = f.NewEventFd();
        Errnos.Expect(Errno.ENODEV, () => f.SetTrigger(VfioPci.IntxIrqIndex, late));
        Errnos.Expect(Errno.ENODEV, () => f.ReadReg(0, 5));
        Errnos.Expect(Errno.ENODEV, () => f.WriteReg(0, 0, 0x41));
        Errnos.Expect(Errno.ENODEV, () => f.ReadConfig(0, 4));
        f.Dispose();
    }
}
