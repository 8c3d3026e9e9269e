using Umdev.Interop;
using Umdev.Vfio;
using Umdev.VfioUser.Client;
using Umdev.VfioUser.Protocol;
using Umdev.VfioUser.Transport;

namespace Umdev.VfioUser.Tests;

/// <summary>The C# client library against the server: same answers as the in-process device file.</summary>
public class ClientTests
{
    [Fact]
    public void ClientSeesWhatTheDeviceFileSees()
    {
        using var f = new ServerFixture();
        var vfio = f.Device.Vfio();
        using (var c = VfioUserClient.Connect(f.SocketPath()))
        {
            Assert.Equal(8u, c.ServerCapabilities.MaxMsgFds);
            var info = c.GetInfo();
            Assert.Equal(new VfioDeviceInfo(VfioDeviceFlags.Pci | VfioDeviceFlags.Reset, 9, 5), info);
            var expected = vfio.GetRegionInfo(7, 32);
            var config7 = c.GetRegionInfo(7);
            Assert.Equal((expected.Index, expected.Flags, expected.Size, expected.Offset), (config7.Index, config7.Flags, config7.Size, config7.Offset));
            Assert.Empty(config7.Capabilities);
            var bar4 = c.GetRegionInfo(4);
            Assert.Equal(VfioRegionFlags.Read | VfioRegionFlags.Write | VfioRegionFlags.Mmap, bar4.Flags);
            Assert.Equal(new VfioSparseMmapArea(4096, 4096), Assert.IsType<VfioSparseMmapCapability>(Assert.Single(bar4.Capabilities)).Areas.Single());
            Assert.NotNull(bar4.MmapHandle);
            bar4.MmapHandle!.Dispose();
            Assert.Equal(new VfioIrqInfo(0, VfioIrqInfoFlags.EventFd | VfioIrqInfoFlags.Maskable | VfioIrqInfoFlags.Automasked, 1), c.GetIrqInfo(0));
            Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => c.GetIrqInfo(2)).Errno);
            Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => c.GetRegionInfo(9)).Errno);
            var config = new byte[256];
            Assert.Equal(256, c.ReadRegion(7, 0, config));
            Assert.Equal(0x48, config[0]);
            Assert.Equal(4, c.WriteRegion(0, 4, new byte[] { 1, 2, 3, 4 }));
            var back = new byte[4];
            c.ReadRegion(0, 4, back);
            Assert.Equal(new byte[] { 1, 2, 3, 4 }, back);
            c.Reset();
        }
    }

    [Fact]
    public void EventfdsAreSetWaitedOnAndDeassigned()
    {
        using var f = new ServerFixture();
        using var c = VfioUserClient.Connect(f.SocketPath());
        using var intx = EventFd.Create();
        c.SetIrqs(new VfioIrqSet(VfioIrqSetFlags.DataEventFd | VfioIrqSetFlags.ActionTrigger, 0, 0, 1, eventFds: [intx]));
        f.Ops().RaiseIntx();
        Assert.Equal(1ul, intx.Wait(30000));
        f.Ops().RaiseIntx();                            // auto-masked: not signalled
        Assert.Equal(0ul, intx.Wait(100));
        c.SetIrqs(new VfioIrqSet(VfioIrqSetFlags.DataNone | VfioIrqSetFlags.ActionUnmask, 0, 0, 1));
        c.SetIrqs(new VfioIrqSet(VfioIrqSetFlags.DataBool | VfioIrqSetFlags.ActionTrigger, 0, 0, 1, data: [1]));
        Assert.Equal(1ul, intx.Wait(30000));
        c.SetIrqs(new VfioIrqSet(VfioIrqSetFlags.DataEventFd | VfioIrqSetFlags.ActionTrigger, 0, 0, 1, eventFds: [null]));
        Assert.Equal(0, f.Ops().ActiveTriggers);
        var e = Assert.Throws<ErrnoException>(() => c.SetIrqs(new VfioIrqSet(VfioIrqSetFlags.DataNone | VfioIrqSetFlags.ActionTrigger, VfioPci.MsixIrqIndex, 0, 1)));
        Assert.Equal(Errno.ENOTTY, e.Errno);                // an index the device does not declare
    }

    [Fact]
    public void ServerGoingAwayIsAnErrnoNotAHang()
    {
        using var f = new ServerFixture();
        using var c = VfioUserClient.Connect(f.SocketPath());
        f.Core.UnregisterParent(f.Parent);
        var e = Assert.Throws<ErrnoException>(() => c.GetInfo());
        Assert.True(e.Errno is Errno.ECONNRESET or Errno.EPIPE, e.Errno.ToString());
    }
    /// <summary>A reply that carries descriptors it should not is a protocol error, and the descriptors are closed.</summary>
    [Fact]
    public void UnexpectedDescriptorsWithAReplyAreClosedAndRefused()
    {
        int before = FdCount.Now();
        var (serverSocket, clientSocket) = UnixSocket.CreatePair();
        var server = new Thread(() =>
        {
            using var s = new RawClient(serverSocket);
            using (var v = s.Receive()!)
                s.Send(RawClient.Message(v.Header.Id, (ushort)VfioUserCommand.Version, RawClient.VersionPayload(), flags: (uint)VfioUserFlags.Reply));
            using var reset = s.Receive()!;
            using (var stray = EventFd.Create())
                s.Send(RawClient.Message(reset.Header.Id, (ushort)VfioUserCommand.DeviceReset, [], flags: (uint)VfioUserFlags.Reply), stray);
            s.IsClosedByServer();
        }) { IsBackground = true };
        server.Start();
        using (var c = VfioUserClient.Create(new SocketTransport(clientSocket)))
        {
            var e = Assert.Throws<ErrnoException>(c.Reset);
            Assert.Equal(Errno.EPROTO, e.Errno);
        }
        Assert.True(server.Join(TimeSpan.FromSeconds(60)));
        FdCount.SettlesAt(before);
    }
}
