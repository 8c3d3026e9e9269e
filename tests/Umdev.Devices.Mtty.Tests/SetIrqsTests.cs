using Umdev.Interop;
using Umdev.Vfio;
using F = Umdev.Vfio.VfioIrqSetFlags;

namespace Umdev.Devices.Mtty.Tests;

/// <summary>mtty.md §9: every row of the SET_IRQS table and the core's validation.</summary>
public class SetIrqsTests
{
    private const uint Intx = VfioPci.IntxIrqIndex, Msi = VfioPci.MsiIrqIndex;

    [Fact]
    public void Intx_is_automasked_after_each_signal_until_unmasked()
    {
        using var f = new MttyFixture(1);
        var e = f.EnableIrq();
        f.Loopback();
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
        f.Loopback();                                  // masked: lost
        MttyFixture.AssertNoSignal(e);
        f.Unmask();
        MttyFixture.AssertNoSignal(e);                 // nothing pending on the UART
        f.Loopback();
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
    }

    [Fact]
    public void Intx_mask_none_masks()
    {
        using var f = new MttyFixture(1);
        var e = f.EnableIrq();
        f.Mask();
        f.Loopback();
        MttyFixture.AssertNoSignal(e);
        f.Unmask();
        f.Loopback();
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
    }

    [Theory]
    [InlineData((byte)1, true)]
    [InlineData((byte)0xFF, true)]
    [InlineData((byte)0, false)]
    public void Intx_mask_bool_masks_only_on_non_zero(byte value, bool masks)
    {
        using var f = new MttyFixture(1);
        var e = f.EnableIrq();
        f.SetIrqs(F.DataBool | F.ActionMask, Intx, data: [value]);
        f.Loopback();
        if (masks) MttyFixture.AssertNoSignal(e);
        else MttyFixture.AwaitSignal(e);
    }

    [Theory]
    [InlineData((byte)1, true)]
    [InlineData((byte)0, false)]
    public void Intx_unmask_bool_unmasks_only_on_non_zero(byte value, bool unmasks)
    {
        using var f = new MttyFixture(1);
        var e = f.EnableIrq();
        f.Mask();
        f.SetIrqs(F.DataBool | F.ActionUnmask, Intx, data: [value]);
        f.Loopback();
        if (unmasks) MttyFixture.AwaitSignal(e);
        else MttyFixture.AssertNoSignal(e);
    }

    [Theory]
    [InlineData(F.ActionMask)]
    [InlineData(F.ActionUnmask)]
    public void Intx_mask_and_unmask_eventfds_are_not_supported(F action)
    {
        using var f = new MttyFixture(1);
        f.EnableIrq();
        var fd = f.NewEventFd();
        Errnos.Expect(Errno.ENOTTY, () => f.File.SetIrqs(new VfioIrqSet(F.DataEventFd | action, Intx, 0, 1, eventFds: new EventFd?[] { fd })));
    }

    [Theory]
    [InlineData(F.ActionMask)]
    [InlineData(F.ActionUnmask)]
    public void Intx_mask_and_unmask_need_intx_mode_start_0_count_1(F action)
    {
        using var f = new MttyFixture(1);
        Errnos.Expect(Errno.EINVAL, () => f.SetIrqs(F.DataNone | action, Intx));   // mode none
        f.EnableIrq(Msi);
        Errnos.Expect(Errno.EINVAL, () => f.SetIrqs(F.DataNone | action, Intx));   // mode MSI
        f.SetIrqs(F.DataNone | F.ActionTrigger, Msi, count: 0);
        f.EnableIrq();
        Errnos.Expect(Errno.EINVAL, () => f.SetIrqs(F.DataNone | action, Intx, start: 1));
        Errnos.Expect(Errno.EINVAL, () => f.SetIrqs(F.DataNone | action, Intx, count: 0));
        Errnos.Expect(Errno.EINVAL, () => f.SetIrqs(F.DataNone | action, Intx, count: 2));
        f.SetIrqs(F.DataNone | action, Intx);
    }

    [Fact]
    public void Intx_trigger_none_count_0_disables_and_releases_the_eventfd()
    {
        using var f = new MttyFixture(1);
        var e = f.EnableIrq();
        var id = EventFdProbe.Identity(e);
        f.Mask();
        e.Dispose();                                   // the device's reference keeps it open
        Assert.Equal(id, EventFdProbe.Identity(id.Fd));
        f.SetIrqs(F.DataNone | F.ActionTrigger, Intx, count: 0);
        Assert.NotEqual(id, EventFdProbe.Identity(id.Fd));
        Errnos.Expect(Errno.EINVAL, () => f.Loopback()); // mode none again
        var again = f.EnableIrq();
        f.Loopback();                                  // disable cleared the mask
        MttyFixture.AwaitSignal(again);
    }

    [Theory]
    [InlineData(Intx)]
    [InlineData(Msi)]
    public void Disabling_an_index_that_is_not_active_is_einval(uint index)
    {
        using var f = new MttyFixture(1);
        Errnos.Expect(Errno.EINVAL, () => f.SetIrqs(F.DataNone | F.ActionTrigger, index, count: 0));
        f.EnableIrq(index == Intx ? Msi : Intx);
        Errnos.Expect(Errno.EINVAL, () => f.SetIrqs(F.DataNone | F.ActionTrigger, index, count: 0));
    }

    [Theory]
    [InlineData(Intx)]
    [InlineData(Msi)]
    public void Trigger_eventfd_replaces_the_previous_one(uint index)
    {
        using var f = new MttyFixture(1);
        var first = f.EnableIrq(index);
        var firstId = EventFdProbe.Identity(first);
        if (index == Intx) f.Mask();
        first.Dispose();
        var second = f.EnableIrq(index);               // old reference released, mask cleared
        Assert.NotEqual(firstId, EventFdProbe.Identity(firstId.Fd));
        f.Loopback(index);
        Assert.Equal(1UL, MttyFixture.AwaitSignal(second));
    }

    [Theory]
    [InlineData(Intx)]
    [InlineData(Msi)]
    public void Trigger_eventfd_minus_one_detaches(uint index)
    {
        using var f = new MttyFixture(1);
        var e = f.EnableIrq(index);
        f.SetTrigger(index, null);
        Errnos.Expect(Errno.EINVAL, () => f.Loopback(index));
        f.WriteReg(0, 1, 0x02);
        MttyFixture.AssertNoSignal(e);
        f.SetTrigger(index, null);                     // also fine with nothing attached
        f.EnableIrq(index == Intx ? Msi : Intx);       // mode is none: the other index may be enabled
    }

    [Theory]
    [InlineData(Intx)]
    [InlineData(Msi)]
    public void Trigger_with_a_closed_eventfd_fails_ebadf_and_leaves_the_index_disabled(uint index)
    {
        using var f = new MttyFixture(1);
        f.EnableIrq(index);
        var closed = EventFd.Create();
        closed.Dispose();
        Errnos.Expect(Errno.EBADF, () => f.SetTrigger(index, closed));
        Errnos.Expect(Errno.EINVAL, () => f.Loopback(index));
    }

    [Theory]
    [InlineData(Intx)]
    [InlineData(Msi)]
    public void Trigger_needs_start_0_count_1(uint index)
    {
        using var f = new MttyFixture(1);
        var e = f.NewEventFd();
        Errnos.Expect(Errno.EINVAL, () => f.File.SetIrqs(new VfioIrqSet(F.DataEventFd | F.ActionTrigger, index, 1, 1, eventFds: new EventFd?[] { e })));
        Errnos.Expect(Errno.EINVAL, () => f.File.SetIrqs(new VfioIrqSet(F.DataEventFd | F.ActionTrigger, index, 0, 2, eventFds: new EventFd?[] { e, e })));
        f.EnableIrq(index);
        Errnos.Expect(Errno.EINVAL, () => f.SetIrqs(F.DataNone | F.ActionTrigger, index, start: 1));
    }

    [Theory]
    [InlineData(Intx, F.DataNone)]
    [InlineData(Intx, F.DataBool)]
    [InlineData(Msi, F.DataNone)]
    [InlineData(Msi, F.DataBool)]
    public void Loopback_trigger_needs_the_index_enabled(uint index, F data)
    {
        using var f = new MttyFixture(1);
        Errnos.Expect(Errno.EINVAL, () => f.SetIrqs(data | F.ActionTrigger, index, data: data == F.DataBool ? [1] : null));
        f.EnableIrq(index == Intx ? Msi : Intx);
        Errnos.Expect(Errno.EINVAL, () => f.SetIrqs(data | F.ActionTrigger, index, data: data == F.DataBool ? [1] : null));
    }

    [Fact]
    public void Switching_between_intx_and_msi_needs_a_disable_first()
    {
        using var f = new MttyFixture(1);
        f.EnableIrq(Intx);
        Errnos.Expect(Errno.EINVAL, () => f.EnableIrq(Msi));
        f.SetIrqs(F.DataNone | F.ActionTrigger, Intx, count: 0);
        var msi = f.EnableIrq(Msi);
        Errnos.Expect(Errno.EINVAL, () => f.EnableIrq(Intx));
        f.SetIrqs(F.DataNone | F.ActionTrigger, Msi, count: 0);
        Errnos.Expect(Errno.EINVAL, () => f.Loopback(Msi));
        f.EnableIrq(Intx);
        MttyFixture.AssertNoSignal(msi);
    }

    [Fact]
    public void Msi_is_never_masked()
    {
        using var f = new MttyFixture(1);
        var e = f.EnableIrq(Msi);
        f.Loopback(Msi);
        f.Loopback(Msi);
        f.Loopback(Msi);
        Assert.Equal(3UL, MttyFixture.AwaitSignal(e));
    }

    [Theory]
    [InlineData(F.DataNone | F.ActionMask)]
    [InlineData(F.DataNone | F.ActionUnmask)]
    [InlineData(F.DataBool | F.ActionMask)]
    [InlineData(F.DataBool | F.ActionUnmask)]
    public void Msi_mask_and_unmask_are_enotty(F flags)
    {
        using var f = new MttyFixture(1);
        f.EnableIrq(Msi);
        Errnos.Expect(Errno.ENOTTY, () => f.SetIrqs(flags, Msi, data: [1]));
    }

    [Theory]
    [InlineData(VfioPci.MsixIrqIndex, F.DataNone | F.ActionTrigger)]
    [InlineData(VfioPci.MsixIrqIndex, F.DataNone | F.ActionMask)]
    [InlineData(VfioPci.ErrIrqIndex, F.DataNone | F.ActionTrigger)]
    [InlineData(VfioPci.ReqIrqIndex, F.DataNone | F.ActionUnmask)]
    public void Msix_err_and_req_masking_are_enotty(uint index, F flags)
    {
        using var f = new MttyFixture(2);
        Errnos.Expect(Errno.ENOTTY, () => f.SetIrqs(flags, index));
    }

    [Theory]
    [InlineData(Intx, F.DataNone)]
    [InlineData(Intx, F.DataNone | F.ActionMask | F.ActionUnmask)]
    [InlineData(Intx, F.DataNone | F.ActionTrigger | F.ActionMask)]
    [InlineData(Msi, F.DataNone | F.ActionTrigger | F.ActionUnmask)]
    public void Several_actions_or_none_succeed_without_effect(uint index, F flags)
    {
        using var f = new MttyFixture(1);
        var e = f.EnableIrq(index);
        f.SetIrqs(flags, index);
        MttyFixture.AssertNoSignal(e);
        f.Loopback(index);
        Assert.Equal(1UL, MttyFixture.AwaitSignal(e));
    }

    [Fact]
    public void Core_validation_rejects_malformed_requests()
    {
        using var f = new MttyFixture(1);
        var e = f.NewEventFd();
        Errnos.Expect(Errno.EINVAL, () => f.File.SetIrqs(new VfioIrqSet(F.DataNone | F.ActionTrigger, Intx, 0, 1, argsz: 19)));
        Errnos.Expect(Errno.EINVAL, () => f.SetIrqs(F.DataNone | F.ActionTrigger, 5));
        Errnos.Expect(Errno.EINVAL, () => f.SetIrqs((F)0x40 | F.DataNone | F.ActionTrigger, Intx));
        Errnos.Expect(Errno.EINVAL, () => f.SetIrqs(F.DataNone | F.DataBool | F.ActionTrigger, Intx, data: [1]));
        Errnos.Expect(Errno.EINVAL, () => f.SetIrqs(F.ActionTrigger, Intx));
        Errnos.Expect(Errno.EINVAL, () => f.SetIrqs(F.DataNone | F.ActionTrigger, Intx, start: 5, count: 0));
        Errnos.Expect(Errno.EINVAL, () => f.SetIrqs(F.DataNone | F.ActionTrigger, Intx, start: 4, count: 2));
        Errnos.Expect(Errno.EINVAL, () => f.SetIrqs(F.DataNone | F.ActionTrigger, Intx, start: 1, count: uint.MaxValue - 1));
        Errnos.Expect(Errno.EINVAL, () => f.File.SetIrqs(new VfioIrqSet(F.DataBool | F.ActionTrigger, Intx, 0, 1, [1], argsz: 20)));
        Errnos.Expect(Errno.EINVAL, () => f.File.SetIrqs(new VfioIrqSet(F.DataEventFd | F.ActionTrigger, Intx, 0, 1, eventFds: new EventFd?[] { e }, argsz: 23)));
        f.SetTrigger(Intx, e);                         // and a well-formed one works
    }
}
