using Umdev.Core;
using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.Devices.Mtty.Tests;

/// <summary>A core with the mtty parent, one device of the requested type and an open device file.</summary>
internal sealed class MttyFixture : IDisposable
{
    /// <summary>Generous wait for an eventfd signal on a loaded machine (not a timing assertion).</summary>
    public const int SignalTimeoutMs = 10_000;

    private readonly List<EventFd> _eventFds = [];

    public MttyFixture(int ports = 2, bool getInfo = true, MttyOptions? options = null)
    {
        Core = new MdevCore();
        Parent = Mtty.Register(Core, options);
        Mdev = Core.Create(Type(ports), Guid.NewGuid());
        File = Core.OpenVfio(Mdev.Name);
        if (getInfo) File.GetInfo();
    }

    public MdevCore Core { get; }
    public MdevParent Parent { get; }
    public MdevDevice Mdev { get; }
    public VfioDeviceFile File { get; private set; }

    public MdevType Type(int ports) => Parent.FindType($"mtty-{ports}")!;

    public void Reopen()
    {
        File.Dispose();
        File = Core.OpenVfio(Mdev.Name);
    }

    public byte ReadReg(uint port, uint reg)
    {
        Span<byte> b = stackalloc byte[1];
        Assert.Equal(1, File.ReadRegion(port, reg, b));
        return b[0];
    }

    public void WriteReg(uint port, uint reg, byte value) => Assert.Equal(1, File.WriteRegion(port, reg, [value]));

    public byte[] ReadConfig(uint offset, int length)
    {
        var b = new byte[length];
        Assert.Equal(length, File.ReadRegion(VfioPci.ConfigRegionIndex, offset, b));
        return b;
    }

    public uint ReadConfig32(uint offset) => BitConverter.ToUInt32(ReadConfig(offset, 4));

    public void WriteConfig(uint offset, params byte[] data) => Assert.Equal(data.Length, File.WriteRegion(VfioPci.ConfigRegionIndex, offset, data));

    public EventFd NewEventFd()
    {
        var e = EventFd.Create(nonBlocking: true);
        _eventFds.Add(e);
        return e;
    }

    /// <summary>Attaches a fresh eventfd as the trigger of <paramref name="index"/> (0 INTx, 1 MSI).</summary>
    public EventFd EnableIrq(uint index = VfioPci.IntxIrqIndex)
    {
        var e = NewEventFd();
        SetTrigger(index, e);
        return e;
    }

    public void SetTrigger(uint index, EventFd? eventFd) =>
        File.SetIrqs(new VfioIrqSet(VfioIrqSetFlags.DataEventFd | VfioIrqSetFlags.ActionTrigger, index, 0, 1, eventFds: new[] { eventFd }));

    public void SetIrqs(VfioIrqSetFlags flags, uint index, uint start = 0, uint count = 1, byte[]? data = null) =>
        File.SetIrqs(new VfioIrqSet(flags, index, start, count, data));

    public void Unmask() => SetIrqs(VfioIrqSetFlags.DataNone | VfioIrqSetFlags.ActionUnmask, VfioPci.IntxIrqIndex);

    public void Mask() => SetIrqs(VfioIrqSetFlags.DataNone | VfioIrqSetFlags.ActionMask, VfioPci.IntxIrqIndex);

    /// <summary>Loopback trigger from user space (SET_IRQS TRIGGER with DATA_NONE).</summary>
    public void Loopback(uint index = VfioPci.IntxIrqIndex) => SetIrqs(VfioIrqSetFlags.DataNone | VfioIrqSetFlags.ActionTrigger, index);

    /// <summary>Waits for a signal; returns the counter value it consumed.</summary>
    public static ulong AwaitSignal(EventFd e)
    {
        ulong n = e.Wait(SignalTimeoutMs);
        Assert.True(n > 0, "expected an interrupt signal");
        return n;
    }

    public static void AssertNoSignal(EventFd e) => Assert.Equal(0UL, e.Consume());

    public void Dispose()
    {
        File.Dispose();
        Mtty.Unregister(Core, Parent);
        foreach (var e in _eventFds) e.Dispose();
    }
}

internal static class Errnos
{
    public static void Expect(Errno errno, Action action) => Assert.Equal(errno, Assert.Throws<ErrnoException>(action).Errno);
}
