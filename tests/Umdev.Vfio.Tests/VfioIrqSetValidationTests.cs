using Umdev.Interop;
using Umdev.Vfio;
using F = Umdev.Vfio.VfioIrqSetFlags;

namespace Umdev.Vfio.Tests;

/// <summary>The kernel's vfio_set_irqs_validate_and_prepare rules (vfio-api.md §4.2), with num_irqs 5 as mtty passes.</summary>
public class VfioIrqSetValidationTests
{
    private static Errno Reject(VfioIrqSet set)
    {
        try
        {
            set.ValidateAndPrepare(5, 5);
        }
        catch (ErrnoException e)
        {
            return e.Errno;
        }
        return Errno.None;
    }

    [Fact]
    public void Valid_requests_report_their_data_size()
    {
        Assert.Equal(0, new VfioIrqSet(F.DataNone | F.ActionUnmask, 0, 0, 1).ValidateAndPrepare(5, 5));
        Assert.Equal(0, new VfioIrqSet(F.DataNone | F.ActionTrigger, 0, 0, 0).ValidateAndPrepare(5, 5));
        Assert.Equal(3, new VfioIrqSet(F.DataBool | F.ActionTrigger, 1, 1, 3, data: [1, 0, 1]).ValidateAndPrepare(5, 5));
        using var efd = EventFd.Create();
        Assert.Equal(4, new VfioIrqSet(F.DataEventFd | F.ActionTrigger, 0, 0, 1, eventFds: [efd]).ValidateAndPrepare(5, 5));
        Assert.Equal(8, new VfioIrqSet(F.DataEventFd | F.ActionTrigger, 0, 3, 2, eventFds: [null, null]).ValidateAndPrepare(5, 5));
    }

    [Fact]
    public void Argsz_below_20_is_EINVAL() =>
        Assert.Equal(Errno.EINVAL, Reject(new VfioIrqSet(F.DataNone | F.ActionUnmask, 0, 0, 1, argsz: 19)));

    [Fact]
    public void Index_beyond_the_bus_irq_types_is_EINVAL() =>
        Assert.Equal(Errno.EINVAL, Reject(new VfioIrqSet(F.DataNone | F.ActionUnmask, 5, 0, 1)));

    [Fact]
    public void Unknown_flag_bits_are_EINVAL() =>
        Assert.Equal(Errno.EINVAL, Reject(new VfioIrqSet(F.DataNone | F.ActionUnmask | (F)0x40, 0, 0, 1)));

    [Theory]
    [InlineData(5u, 0u)]          // start outside
    [InlineData(4u, 2u)]          // start + count beyond
    [InlineData(1u, 0xfffffffeu)] // count >= U32_MAX - start
    [InlineData(0u, 0xffffffffu)]
    public void Ranges_outside_num_irqs_are_EINVAL(uint start, uint count) =>
        Assert.Equal(Errno.EINVAL, Reject(new VfioIrqSet(F.DataNone | F.ActionTrigger, 0, start, count)));

    [Theory]
    [InlineData(0u)]                                  // no data type
    [InlineData((uint)(F.DataNone | F.DataBool))]     // two data types
    [InlineData((uint)(F.DataBool | F.DataEventFd))]
    [InlineData((uint)F.DataTypeMask)]
    public void Anything_but_exactly_one_data_type_is_EINVAL(uint dataFlags) =>
        Assert.Equal(Errno.EINVAL, Reject(new VfioIrqSet((F)dataFlags | F.ActionTrigger, 0, 0, 1, data: [1], argsz: 24)));

    [Fact]
    public void Data_shorter_than_count_entries_is_EINVAL()
    {
        Assert.Equal(Errno.EINVAL, Reject(new VfioIrqSet(F.DataBool | F.ActionTrigger, 0, 0, 2, data: [1], argsz: 21)));
        using var efd = EventFd.Create();
        Assert.Equal(Errno.EINVAL, Reject(new VfioIrqSet(F.DataEventFd | F.ActionTrigger, 0, 0, 2, eventFds: [efd], argsz: 27)));
    }

    [Fact]
    public void A_zero_num_irqs_rejects_everything() =>
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() =>
            new VfioIrqSet(F.DataNone | F.ActionUnmask, 0, 0, 1).ValidateAndPrepare(0, 5)).Errno);
}
