using System.Buffers.Binary;
using Microsoft.Extensions.Logging.Abstractions;
using Umdev.Core;
using Umdev.Interop;
using Umdev.Samples.Gpio;
using Umdev.Vfio;
using Umdev.VfioUser;
using Umdev.VfioUser.Client;

namespace Umdev.Samples.Tests;

/// <summary>
/// The sample GPIO driver run for real: an in-process core and vfio-user service on a temporary socket
/// directory, its parent registered through the plug-in, a vfio-user client on the device's socket.
/// </summary>
public sealed class GpioServedTests : IDisposable
{
    private readonly string _dir = Path.Combine("/tmp", "gpio-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly MdevCore _core = new();
    private readonly GpioParentPlugin _plugin = new();
    private readonly MdevParent _parent;
    private readonly VfioUserService _service;

    public GpioServedTests()
    {
        _parent = _plugin.Register(_core, MdevParentOptions.Parse(_plugin, "banks=2"));
        _service = new VfioUserService(_core, _dir, NullLoggerFactory.Instance);
    }

    private MdevType Bank => _parent.FindType("gpio-bank")!;

    private (MdevDevice Mdev, GpioDevice Gpio, VfioUserClient Client) Serve()
    {
        var mdev = _core.Create(Bank, Guid.NewGuid());
        var gpio = (GpioDevice)((VfioDevice)mdev.DriverData!).Ops;
        return (mdev, gpio, VfioUserClient.Connect(VfioUserService.SocketPathFor(_dir, mdev.Uuid)));
    }

    private static uint Read32(VfioUserClient c, uint region, ulong offset)
    {
        Span<byte> b = stackalloc byte[4];
        Assert.Equal(4, c.ReadRegion(region, offset, b));
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    private static void Write32(VfioUserClient c, uint region, ulong offset, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        Assert.Equal(4, c.WriteRegion(region, offset, b));
    }

    [Fact]
    public void ConfigSpaceDescribesTheCardAndSizesItsMemoryBar()
    {
        var (_, _, c) = Serve();
        using var _ = c;
        Assert.Equal(0x00f0_1b36u, Read32(c, VfioPci.ConfigRegionIndex, 0x00));
        Assert.Equal(0x0880_0000u, Read32(c, VfioPci.ConfigRegionIndex, 0x08) & 0xffff_ff00);
        Assert.Equal(0u, Read32(c, VfioPci.ConfigRegionIndex, 0x10));                    // 32-bit memory BAR
        Write32(c, VfioPci.ConfigRegionIndex, 0x10, 0xffff_ffff);
        Assert.Equal(0xffff_ffe0u, Read32(c, VfioPci.ConfigRegionIndex, 0x10));          // 32 bytes
        byte cap = (byte)Read32(c, VfioPci.ConfigRegionIndex, 0x34);
        Assert.Equal(0x05u, Read32(c, VfioPci.ConfigRegionIndex, cap) & 0xff);         // MSI
        var bar0 = c.GetRegionInfo(VfioPci.Bar0RegionIndex);
        Assert.Equal((ulong)GpioDevice.BarSize, bar0.Size);
        Assert.Equal(VfioRegionFlags.Read | VfioRegionFlags.Write, bar0.Flags);
        Assert.Equal(0ul, c.GetRegionInfo(1).Size);                                       // undeclared BAR: empty
    }

    [Fact]
    public void InputChangeRaisesMsiAndLatchesStatusUntilCleared()
    {
        var (_, gpio, c) = Serve();
        using var _ = c;
        using var msi = EventFd.Create(nonBlocking: true);
        c.SetIrqs(new VfioIrqSet(VfioIrqSetFlags.DataEventFd | VfioIrqSetFlags.ActionTrigger, VfioPci.MsiIrqIndex, 0, 1, eventFds: new[] { msi }));

        gpio.SetInputs(0b01);                                   // masked: latched, no interrupt
        Assert.Equal(0b01u, Read32(c, 0, GpioDevice.DataIn));
        Assert.Equal(0b01u, Read32(c, 0, GpioDevice.IrqStatus));
        Assert.Equal(0ul, msi.Wait(100));

        Write32(c, 0, GpioDevice.IrqStatus, 0b01);              // write 1 to clear
        Assert.Equal(0u, Read32(c, 0, GpioDevice.IrqStatus));
        Write32(c, 0, GpioDevice.IrqMask, 0b10);
        gpio.SetInputs(0b11);
        Assert.Equal(1ul, msi.Wait(5000));
        Assert.Equal(0b10u, Read32(c, 0, GpioDevice.IrqStatus) & 0b10);
    }

    [Fact]
    public void IntxIsALevelHeldUntilTheStatusIsCleared()
    {
        var (_, gpio, c) = Serve();
        using var _ = c;
        using var intx = EventFd.Create(nonBlocking: true);
        c.SetIrqs(new VfioIrqSet(VfioIrqSetFlags.DataEventFd | VfioIrqSetFlags.ActionTrigger, VfioPci.IntxIrqIndex, 0, 1, eventFds: new[] { intx }));
        var unmask = new VfioIrqSet(VfioIrqSetFlags.DataNone | VfioIrqSetFlags.ActionUnmask, VfioPci.IntxIrqIndex, 0, 1);

        Write32(c, 0, GpioDevice.IrqMask, 0b1);
        gpio.SetInputs(0b1);
        Assert.Equal(1ul, intx.Wait(5000));
        c.SetIrqs(unmask);                                      // still pending: signalled again
        Assert.Equal(1ul, intx.Wait(5000));
        Write32(c, 0, GpioDevice.IrqStatus, 0b1);               // the guest handles it: line lowered
        c.SetIrqs(unmask);
        Assert.Equal(0ul, intx.Wait(100));
    }

    [Fact]
    public void OutputsReadBackWhatTheyDrive()
    {
        var (_, gpio, c) = Serve();
        using var _ = c;
        gpio.SetInputs(0xf0);
        Write32(c, 0, GpioDevice.Direction, 0x0f);
        Write32(c, 0, GpioDevice.DataOut, 0x05);
        Assert.Equal(0xf5u, Read32(c, 0, GpioDevice.DataIn));
        c.Reset();
        Assert.Equal(0xf0u, Read32(c, 0, GpioDevice.DataIn));
        Assert.Equal(0u, Read32(c, 0, GpioDevice.Direction));
    }

    [Theory]
    [InlineData(0u, 30ul, 4)]     // crosses the end of BAR0
    [InlineData(0u, 32ul, 1)]     // just past it
    [InlineData(7u, 255ul, 2)]    // past config space
    [InlineData(1u, 0ul, 4)]      // an empty BAR
    public void AccessOutsideARegionIsRefusedWithEinval(uint region, ulong offset, int length)
    {
        var (_, _, c) = Serve();
        using var _ = c;
        var read = Assert.Throws<ErrnoException>(() => c.ReadRegion(region, offset, new byte[length]));
        Assert.Equal(Errno.EINVAL, read.Errno);
        var write = Assert.Throws<ErrnoException>(() => c.WriteRegion(region, offset, new byte[length]));
        Assert.Equal(Errno.EINVAL, write.Errno);
    }

    [Fact]
    public void BanksAreCountedByAvailableInstances()
    {
        Assert.Equal(2, Bank.AvailableInstances);
        var first = _core.Create(Bank, Guid.NewGuid());
        _core.Create(Bank, Guid.NewGuid());
        Assert.Equal(0, Bank.AvailableInstances);
        var full = Assert.Throws<ErrnoException>(() => _core.Create(Bank, Guid.NewGuid()));
        Assert.Equal(Errno.ENOSPC, full.Errno);
        _core.Remove(first);
        Assert.Equal(1, Bank.AvailableInstances);
    }

    [Fact]
    public void PluginRefusesABadOption()
    {
        Assert.Throws<MdevParentOptionException>(() => MdevParentOptions.Parse(_plugin, "banks=-1"));
        Assert.Throws<MdevParentOptionException>(() => MdevParentOptions.Parse(_plugin, "pins=8"));
    }

    public void Dispose()
    {
        _service.Dispose();
        _plugin.Unregister(_core, _parent);
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}
