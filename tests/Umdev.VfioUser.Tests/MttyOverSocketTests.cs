using Umdev.Interop;
using Umdev.Vfio;
using Umdev.VfioUser.Client;

namespace Umdev.VfioUser.Tests;

/// <summary>mtty's close semantics and removal rules as a vfio-user client sees them.</summary>
public class MttyOverSocketTests
{
    private const uint Scratch = 7; // UART scratch register: plain storage

    [Fact]
    public void ReconnectFindsTheUartStateButNoInterruptWiring()
    {
        using var f = new MttyServerFixture();
        using (var c = VfioUserClient.Connect(f.SocketPath))
        {
            c.GetInfo();
            c.WriteRegion(0, Scratch, new byte[] { 0x5C });
            using var intx = EventFd.Create();
            c.SetIrqs(new VfioIrqSet(VfioIrqSetFlags.DataEventFd | VfioIrqSetFlags.ActionTrigger, 0, 0, 1, eventFds: [intx]));
        }
        Assert.True(SpinWait.SpinUntil(() => f.Device.Vfio().OpenCount == 0, TimeSpan.FromSeconds(30)));
        using var again = VfioUserClient.Connect(f.SocketPath);
        again.GetInfo();
        var b = new byte[1];
        again.ReadRegion(0, Scratch, b);
        Assert.Equal(0x5C, b[0]);
        // Close released INTx (mode none): disabling it again is EINVAL, as in the kernel sample.
        var e = Assert.Throws<ErrnoException>(() => again.SetIrqs(new VfioIrqSet(VfioIrqSetFlags.DataNone | VfioIrqSetFlags.ActionTrigger, 0, 0, 0)));
        Assert.Equal(Errno.EINVAL, e.Errno);
    }

    [Fact]
    public void RemovingAnMttyWhoseClientIgnoresTheRequestFailsWithEbusy()
    {
        using var f = new MttyServerFixture(options: new VfioUserServiceOptions { RemoveTimeout = TimeSpan.FromMilliseconds(200) });
        using var c = VfioUserClient.Connect(f.SocketPath);
        c.GetInfo();
        Assert.Equal(Errno.EBUSY, Assert.Throws<ErrnoException>(() => f.Core.RemoveWrite(f.Device, "1\n"u8)).Errno);
        Assert.Equal(Core.MdevDeviceState.Active, f.Device.State);
        Assert.Equal(8u, c.GetRegionInfo(0).Size);
        c.Dispose();
        Assert.True(SpinWait.SpinUntil(() => f.Device.Vfio().OpenCount == 0, TimeSpan.FromSeconds(30)));
        f.Core.RemoveWrite(f.Device, "1\n"u8);
        Assert.False(File.Exists(f.SocketPath));
    }

    [Fact]
    public void MttyOffersReqByDefaultSoRemovalAsksTheClientToLeave()
    {
        using var f = new MttyServerFixture();
        var c = VfioUserClient.Connect(f.SocketPath);
        c.GetInfo();
        Assert.Equal(new VfioIrqInfo(VfioPci.ReqIrqIndex, VfioIrqInfoFlags.EventFd, 1), c.GetIrqInfo(VfioPci.ReqIrqIndex));
        using var req = EventFd.Create();
        c.SetIrqs(new VfioIrqSet(VfioIrqSetFlags.DataEventFd | VfioIrqSetFlags.ActionTrigger, VfioPci.ReqIrqIndex, 0, 1, eventFds: [req]));
        var leaver = Task.Run(() =>
        {
            Assert.Equal(1ul, req.Wait(60000));
            c.Dispose();
        });
        f.Core.RemoveWrite(f.Device, "1\n"u8);
        leaver.Wait();
        Assert.Equal(Core.MdevDeviceState.Removed, f.Device.State);
        Assert.False(File.Exists(f.SocketPath));
    }

    [Fact]
    public void ANineByteReadOfTheEightByteBar0IsEinval()
    {
        using var f = new MttyServerFixture();
        using var c = VfioUserClient.Connect(f.SocketPath);
        c.GetInfo();
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => c.ReadRegion(0, 0, new byte[9])).Errno);
        Assert.Equal(8, c.ReadRegion(0, 0, new byte[8]));
    }
}
