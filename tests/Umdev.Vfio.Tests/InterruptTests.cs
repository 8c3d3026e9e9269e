using Umdev.Interop;
using F = Umdev.Vfio.VfioIrqSetFlags;

namespace Umdev.Vfio.Tests;

/// <summary>The model's interrupts: MSI-X vectors, ERR and REQ, and the exclusion of INTx, MSI and MSI-X.</summary>
public class InterruptTests
{
    private static readonly VfioInterruptSpec All = new(Intx: true, MsiVectors: 1, MsixVectors: 4, Err: true, Req: true);

    private static void Expect(Errno errno, Action action) => Assert.Equal(errno, Assert.Throws<ErrnoException>(action).Errno);

    private static void Attach(VfioInterrupts irqs, uint index, uint start, params EventFd?[] fds) =>
        irqs.SetIrqs(new VfioIrqSet(F.DataEventFd | F.ActionTrigger, index, start, (uint)fds.Length, eventFds: fds), VfioPci.NumIrqs);

    [Fact]
    public void Msix_vectors_are_signalled_one_by_one_and_may_be_added_later()
    {
        var irqs = new VfioInterrupts(All);
        Assert.Equal(new VfioIrqInfo(2, VfioIrqInfoFlags.EventFd, 4), irqs.GetInfo(VfioPci.MsixIrqIndex));
        using var v0 = EventFd.Create(nonBlocking: true);
        using var v3 = EventFd.Create(nonBlocking: true);
        Attach(irqs, VfioPci.MsixIrqIndex, 0, v0);
        Assert.Equal(VfioPci.MsixIrqIndex, irqs.EnabledMode);
        Attach(irqs, VfioPci.MsixIrqIndex, 3, v3);     // a vector added while enabled
        irqs.Raise(3);
        irqs.Raise(3);
        irqs.Raise(1);                                  // no eventfd: nothing
        Assert.Equal(2ul, v3.Consume());
        Assert.Equal(0ul, v0.Wait(0));
        irqs.Raise(0);
        Assert.Equal(1ul, v0.Consume());
        Assert.Equal(2, irqs.AttachedCount);
    }

    [Fact]
    public void Modes_exclude_each_other_until_disabled()
    {
        var irqs = new VfioInterrupts(All);
        using var e = EventFd.Create(nonBlocking: true);
        Attach(irqs, VfioPci.MsixIrqIndex, 0, e);
        Expect(Errno.EINVAL, () => Attach(irqs, VfioPci.IntxIrqIndex, 0, e));
        Expect(Errno.EINVAL, () => Attach(irqs, VfioPci.MsiIrqIndex, 0, e));
        Expect(Errno.EINVAL, () => Attach(irqs, VfioPci.MsixIrqIndex, 2, e, e, e)); // past the last vector
        irqs.SetIrqs(new VfioIrqSet(F.DataNone | F.ActionTrigger, VfioPci.MsixIrqIndex, 0, 0), VfioPci.NumIrqs);
        Assert.Null(irqs.EnabledMode);
        Assert.Equal(0, irqs.AttachedCount);
        Attach(irqs, VfioPci.IntxIrqIndex, 0, e);
        Assert.Equal(VfioPci.IntxIrqIndex, irqs.EnabledMode);
    }

    [Fact]
    public void Err_and_req_are_independent_of_the_mode_and_triggered_by_the_driver()
    {
        var irqs = new VfioInterrupts(All);
        using var intx = EventFd.Create(nonBlocking: true);
        using var req = EventFd.Create(nonBlocking: true);
        Assert.False(irqs.Trigger(VfioPci.ReqIrqIndex));  // nothing attached
        Attach(irqs, VfioPci.IntxIrqIndex, 0, intx);
        Attach(irqs, VfioPci.ReqIrqIndex, 0, req);
        Assert.True(irqs.Trigger(VfioPci.ReqIrqIndex));
        Assert.Equal(1ul, req.Consume());
        Assert.Equal(0ul, intx.Wait(0));
        Expect(Errno.ENOTTY, () => irqs.SetIrqs(new VfioIrqSet(F.DataNone | F.ActionMask, VfioPci.ReqIrqIndex, 0, 1), VfioPci.NumIrqs));
        irqs.SetIrqs(new VfioIrqSet(F.DataNone | F.ActionTrigger, VfioPci.ReqIrqIndex, 0, 0), VfioPci.NumIrqs);
        Assert.False(irqs.Trigger(VfioPci.ReqIrqIndex));
    }

    [Fact]
    public void Intx_is_a_level_reasserted_at_unmask_until_lowered()
    {
        var irqs = new VfioInterrupts(All);
        using var e = EventFd.Create(nonBlocking: true);
        Attach(irqs, VfioPci.IntxIrqIndex, 0, e);
        irqs.Raise();
        irqs.Raise();                                   // auto-masked
        Assert.Equal(1ul, e.Consume());
        var unmask = new VfioIrqSet(F.DataNone | F.ActionUnmask, VfioPci.IntxIrqIndex, 0, 1);
        irqs.SetIrqs(unmask, VfioPci.NumIrqs);          // still asserted: signalled and masked again
        Assert.Equal(1ul, e.Consume());
        irqs.Lower();
        irqs.SetIrqs(unmask, VfioPci.NumIrqs);
        Assert.Equal(0ul, e.Wait(0));
    }

    [Theory]
    [InlineData(VfioIntxUnmask.Level, 1ul, 1ul)]
    [InlineData(VfioIntxUnmask.Pending, 0ul, 1ul)]
    [InlineData(VfioIntxUnmask.Never, 0ul, 0ul)]
    public void Intx_unmask_policy_decides_what_an_asserted_line_signals(VfioIntxUnmask policy, ulong afterSignalled, ulong afterSwallowed)
    {
        var irqs = new VfioInterrupts(All) { IntxUnmask = policy };
        using var e = EventFd.Create(nonBlocking: true);
        Attach(irqs, VfioPci.IntxIrqIndex, 0, e);
        var unmask = new VfioIrqSet(F.DataNone | F.ActionUnmask, VfioPci.IntxIrqIndex, 0, 1);
        irqs.Raise();                                   // signalled, auto-masked
        Assert.Equal(1ul, e.Consume());
        irqs.SetIrqs(unmask, VfioPci.NumIrqs);          // asserted, nothing swallowed
        Assert.Equal(afterSignalled, e.Wait(0));
        irqs.SetIrqs(new VfioIrqSet(F.DataNone | F.ActionMask, VfioPci.IntxIrqIndex, 0, 1), VfioPci.NumIrqs);
        irqs.Raise();                                   // swallowed by the mask
        irqs.SetIrqs(unmask, VfioPci.NumIrqs);
        Assert.Equal(afterSwallowed, e.Wait(0));
        irqs.SetIrqs(new VfioIrqSet(F.DataNone | F.ActionMask, VfioPci.IntxIrqIndex, 0, 1), VfioPci.NumIrqs);
        irqs.Raise();                                   // swallowed again, then the line is lowered
        irqs.Lower();
        irqs.SetIrqs(unmask, VfioPci.NumIrqs);
        Assert.Equal(0ul, e.Wait(0));
    }

    [Fact]
    public void Undeclared_indexes_are_einval_to_query_and_enotty_to_set()
    {
        var irqs = new VfioInterrupts(VfioInterruptSpec.IntxAndMsi);
        Expect(Errno.EINVAL, () => irqs.GetInfo(VfioPci.MsixIrqIndex));
        Expect(Errno.ENOTTY, () => irqs.SetIrqs(new VfioIrqSet(F.DataNone | F.ActionTrigger, VfioPci.MsixIrqIndex, 0, 1), VfioPci.NumIrqs));
        Expect(Errno.ENOTTY, () => irqs.SetIrqs(new VfioIrqSet(F.DataNone | F.ActionTrigger, VfioPci.ErrIrqIndex, 0, 1), VfioPci.NumIrqs));
    }
}
