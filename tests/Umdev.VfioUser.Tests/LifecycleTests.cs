using Umdev.Interop;
using Umdev.Vfio;
using Umdev.VfioUser.Protocol;

namespace Umdev.VfioUser.Tests;

public class LifecycleTests
{
    [Fact]
    public void SocketIsPrivateShownInSysfsAndRemovedWithTheDevice()
    {
        using var f = new ServerFixture();
        string path = f.SocketPath();
        Assert.True(File.Exists(path));
#pragma warning disable CA1416
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
#pragma warning restore CA1416
        var group = f.Device.AttributeGroups.Single(g => g.Name == "vfio-user");
        Assert.Equal(path + "\n", group.Attributes.Single(a => a.Name == "socket").Show!());
        Assert.Equal(MdevAttributeModeReadOnly, group.Attributes.Single().Mode);
        f.Core.Remove(f.Device);
        Assert.False(File.Exists(path));
    }

    private const UnixFileMode MdevAttributeModeReadOnly = Core.MdevAttribute.ReadOnly;

    [Fact]
    public void EachDeviceHasItsOwnSocketFolderThatOutlivesTheServiceButNotAUserRemove()
    {
        using var f = new ServerFixture(devices: 2);
        string folder = VfioUserService.DeviceDirectoryFor(f.Directory, f.Device.Uuid);
        string socket = Path.Combine(folder, VfioUserService.DeviceSocketName);
        // <uuid>.sock stays the contract: a relative link to the socket in the folder, and connect() follows it.
        Assert.Equal(Path.Combine(f.Device.Name, VfioUserService.DeviceSocketName), new FileInfo(f.SocketPath()).LinkTarget);
        using (var c = f.Negotiated()) { }
        using (new RawClient(UnixSocket.Connect(socket))) { }
        Assert.NotEqual(folder, VfioUserService.DeviceDirectoryFor(f.Directory, f.Devices[1].Uuid));

        f.Core.Remove(f.Devices[1]);
        Assert.False(Directory.Exists(VfioUserService.DeviceDirectoryFor(f.Directory, f.Devices[1].Uuid)));

        // A daemon shutting down removes sockets and links but keeps the folder, so a container's mount of it
        // shows the socket the next daemon binds there.
        f.Service.Dispose();
        Assert.True(Directory.Exists(folder));
        Assert.False(File.Exists(socket));
        Assert.False(File.Exists(f.SocketPath()) || new FileInfo(f.SocketPath()).LinkTarget is not null);
        using var again = new VfioUserService(f.Core, f.Directory, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        using (new RawClient(UnixSocket.Connect(socket))) { }
    }

    [Fact]
    public void SecondClientIsRefusedWithoutDisturbingTheFirst()
    {
        using var f = new ServerFixture();
        using var first = f.Negotiated();
        using (first.Call(VfioUserCommand.RegionWrite, RawClient.RegionAccess(0, 0, 1, [0x42]))) { }
        using (var second = f.Raw())
        {
            try { second.Send(RawClient.Message(1, 1, RawClient.VersionPayload())); } catch (ErrnoException) { }
            Assert.True(second.IsClosedByServer());
        }
        using var r = first.Call(VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 0, 1));
        Assert.Equal(0x42, r.Payload[16]);
    }

    [Fact]
    public void DisconnectReleasesMappingsAndEventfdsClosesTheDeviceAndKeepsItsState()
    {
        using var f = new ServerFixture();
        var vfio = f.Device.Vfio();
        int before = FdCount.Now();
        using (var c = f.Negotiated())
        {
            using var memfd = MemFd.Create("guest-ram", 1 << 20);
            var map = new byte[32];
            new DmaMapRequest { Flags = VfioDmaProtection.Read | VfioDmaProtection.Write, Address = 0x100000, Size = 1 << 20 }.Write(map);
            using (var r = c.Call(VfioUserCommand.DmaMap, map, memfd)) Assert.False(r.Header.IsError);
            using var intx = EventFd.Create();
            using (var r = c.Call(VfioUserCommand.DeviceSetIrqs, RawClient.U32s(20, 0x24, 0, 0, 1), intx)) Assert.False(r.Header.IsError);
            using (c.Call(VfioUserCommand.RegionWrite, RawClient.RegionAccess(0, 0, 2, [0xAB, 0xCD]))) { }
            Assert.Equal(1, vfio.OpenCount);
            Assert.Single(vfio.Dma!.Mappings);
            Assert.Equal(1, f.Ops().ActiveTriggers);
        }
        f.WaitNoClient();
        Assert.Equal(0, vfio.OpenCount);
        Assert.Null(vfio.Dma);
        Assert.Equal(1, f.Ops().Closes);
        Assert.Equal(0, f.Ops().ActiveTriggers);
        Assert.Contains(f.Ops().Unmaps, u => u == (0x100000ul, 1ul << 20));
        FdCount.SettlesAt(before);
        using var again = f.Negotiated();
        using var read = again.Call(VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 0, 2));
        Assert.Equal(new byte[] { 0xAB, 0xCD }, read.Payload[16..]);
    }

    [Fact]
    public void RemoveWithAClientThatStaysFailsWithEbusyAndChangesNothing()
    {
        using var f = new ServerFixture(options: new VfioUserServiceOptions { RemoveTimeout = TimeSpan.FromMilliseconds(300) });
        using var c = f.Negotiated();
        var e = Assert.Throws<ErrnoException>(() => f.Core.Remove(f.Device));
        Assert.Equal(Errno.EBUSY, e.Errno);
        Assert.Equal(Core.MdevDeviceState.Active, f.Device.State);
        Assert.True(File.Exists(f.SocketPath()));
        using var r = c.Call(VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 0, 1));
        Assert.False(r.Header.IsError);
    }

    [Fact]
    public void RemoveSignalsTheRequestEventfdAndSucceedsWhenTheClientLeaves()
    {
        using var f = new ServerFixture();
        var c = f.Negotiated();
        using var req = EventFd.Create();
        using (var r = c.Call(VfioUserCommand.DeviceSetIrqs, RawClient.U32s(20, 0x24, 4, 0, 1), req)) Assert.False(r.Header.IsError);
        // The client honours the request: it leaves when REQ fires.
        var leaver = Task.Run(() =>
        {
            Assert.Equal(1ul, req.Wait(60000));
            c.Dispose();
        });
        f.Core.Remove(f.Device);
        leaver.Wait();
        Assert.Equal(Core.MdevDeviceState.Removed, f.Device.State);
        Assert.False(File.Exists(f.SocketPath()));
    }

    [Fact]
    public void RemoveWithoutAClientIsImmediate()
    {
        using var f = new ServerFixture(devices: 2);
        using var other = f.Negotiated(1);
        f.Core.Remove(f.Device);
        Assert.False(File.Exists(f.SocketPath()));
        using var r = other.Call(VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 0, 1));
        Assert.False(r.Header.IsError);
    }

    [Fact]
    public void ParentUnregisterDisconnectsClients()
    {
        using var f = new ServerFixture();
        using var c = f.Negotiated();
        f.Core.UnregisterParent(f.Parent);
        Assert.True(c.IsClosedByServer());
        Assert.False(File.Exists(f.SocketPath()));
    }
}
