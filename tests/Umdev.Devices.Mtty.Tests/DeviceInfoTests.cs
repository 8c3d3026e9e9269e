using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.Devices.Mtty.Tests;

public class DeviceInfoTests
{
    [Theory]
    [InlineData(16u)]
    [InlineData(24u)]
    [InlineData(4096u)]
    public void Get_info_reports_pci_9_regions_5_irqs_without_reset(uint argsz)
    {
        using var f = new MttyFixture(2, getInfo: false);
        Assert.Equal(new VfioDeviceInfo(VfioDeviceFlags.Pci, 9, 5), f.File.GetInfo(argsz));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(15u)]
    public void Get_info_refuses_argsz_below_16(uint argsz)
    {
        using var f = new MttyFixture(2, getInfo: false);
        Errnos.Expect(Errno.EINVAL, () => f.File.GetInfo(argsz));
    }

    [Theory]
    [InlineData(1, 0u, 8ul)]
    [InlineData(1, 1u, 0ul)]
    [InlineData(2, 0u, 8ul)]
    [InlineData(2, 1u, 8ul)]
    [InlineData(1, 2u, 0ul)]
    [InlineData(2, 3u, 0ul)]
    [InlineData(2, 4u, 0ul)]
    [InlineData(2, 5u, 0ul)]
    [InlineData(2, 6u, 0ul)]
    [InlineData(1, 7u, 256ul)]
    [InlineData(2, 7u, 256ul)]
    [InlineData(1, 8u, 0ul)]
    [InlineData(2, 8u, 0ul)]
    public void Region_info(int ports, uint index, ulong size)
    {
        using var f = new MttyFixture(ports);
        var info = f.File.GetRegionInfo(index);
        Assert.Equal(index, info.Index);
        Assert.Equal(VfioRegionFlags.Read | VfioRegionFlags.Write, info.Flags);
        Assert.Equal(size, info.Size);
        Assert.Equal((ulong)index << 40, info.Offset);
        Assert.Empty(info.Capabilities);
        Assert.Null(info.MmapHandle);
    }

    [Theory]
    [InlineData(9u, 32u)]
    [InlineData(100u, 32u)]
    [InlineData(0u, 31u)]
    [InlineData(7u, 0u)]
    public void Region_info_refuses_unknown_index_and_short_argsz(uint index, uint argsz)
    {
        using var f = new MttyFixture(2);
        Errnos.Expect(Errno.EINVAL, () => f.File.GetRegionInfo(index, argsz));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Irq_info(int ports)
    {
        using var f = new MttyFixture(ports);
        Assert.Equal(new VfioIrqInfo(0, VfioIrqInfoFlags.EventFd | VfioIrqInfoFlags.Maskable | VfioIrqInfoFlags.Automasked, 1), f.File.GetIrqInfo(0));
        Assert.Equal(0x7u, (uint)f.File.GetIrqInfo(0).Flags);
        Assert.Equal(new VfioIrqInfo(1, VfioIrqInfoFlags.EventFd | VfioIrqInfoFlags.NoResize, 1), f.File.GetIrqInfo(1));
        Assert.Equal(0x9u, (uint)f.File.GetIrqInfo(1).Flags);
        // REQ, which the model offers every device (the sample does not): removal can ask the VMM to let go.
        Assert.Equal(new VfioIrqInfo(4, VfioIrqInfoFlags.EventFd, 1), f.File.GetIrqInfo(4));
        foreach (uint index in new uint[] { 2, 3, 5, 1000 })
            Errnos.Expect(Errno.EINVAL, () => f.File.GetIrqInfo(index));
        Errnos.Expect(Errno.EINVAL, () => f.File.GetIrqInfo(0, 15));
    }

    [Fact]
    public void Before_get_info_num_irqs_is_0_so_irq_ioctls_fail()
    {
        using var f = new MttyFixture(2, getInfo: false);
        var e = f.NewEventFd();
        Errnos.Expect(Errno.EINVAL, () => f.File.GetIrqInfo(0));
        Errnos.Expect(Errno.EINVAL, () => f.File.GetIrqInfo(1));
        Errnos.Expect(Errno.EINVAL, () => f.SetTrigger(0, e));
        f.File.GetInfo();
        Assert.Equal(1u, f.File.GetIrqInfo(0).Count);
        f.SetTrigger(0, e);
        f.Loopback();
        MttyFixture.AwaitSignal(e);
    }

    [Fact]
    public void Ops_name_is_vfio_mtty()
    {
        using var f = new MttyFixture(1);
        Assert.Equal("vfio-mtty", f.File.Device.Ops.Name);
    }
}
