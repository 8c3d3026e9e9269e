using Microsoft.Extensions.Logging.Abstractions;
using Umdev.Core;
using Umdev.Devices.Mtty;
using Umdev.Interop;
using Umdev.VfioUser.Protocol;

namespace Umdev.VfioUser.Tests;

/// <summary>
/// Create and remove of one UUID racing, in-process against the core and the vfio-user service (the same race
/// through the mount is in the CLI tests): after every round the device is either wholly there or wholly gone.
/// </summary>
public sealed class CreateRemoveRaceTests : IDisposable
{
    private readonly string _dir = Path.Combine("/tmp", "vur-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly MdevCore _core = new();
    private readonly MdevParent _parent;
    private readonly VfioUserService _service;
    private readonly MdevType _type;
    private readonly Guid _uuid = Guid.NewGuid();

    public CreateRemoveRaceTests()
    {
        _parent = Mtty.Register(_core, new MttyOptions(2));
        _type = _parent.FindType("mtty-2")!;
        _service = new VfioUserService(_core, _dir, NullLoggerFactory.Instance);
    }

    public void Dispose()
    {
        _service.Dispose();
        Mtty.Unregister(_core, _parent);
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    [Fact]
    public void A_thousand_rounds_of_create_racing_remove_never_leave_a_broken_device()
    {
        int present = 0, absent = 0;
        for (int round = 0; round < 1000; round++)
        {
            var rng = new Random(round);
            int createDelay = rng.Next(200), removeDelay = rng.Next(200);
            using var start = new Barrier(2);
            var creator = new Thread(() =>
            {
                start.SignalAndWait();
                Thread.SpinWait(createDelay);
                try { _core.Create(_type, _uuid); }
                catch (ErrnoException e) when (e.Errno == Errno.EEXIST) { }
            });
            var remover = new Thread(() =>
            {
                start.SignalAndWait();
                Thread.SpinWait(removeDelay);
                // As a write to <uuid>/remove: only a device the tree shows can be named.
                if (_core.FindDevice(_uuid) is { } mdev) _core.Remove(mdev);
            });
            creator.Start();
            remover.Start();
            creator.Join();
            remover.Join();
            if (AssertWholeOrGone(round)) present++;
            else absent++;
        }
        // Both ends of the race were reached, so the invariant was checked on each.
        Assert.True(present > 0 && absent > 0, $"present {present}, absent {absent}");
    }

    [Fact]
    public void A_removal_heard_late_for_an_earlier_device_leaves_the_new_one_served()
    {
        var old = _core.Create(_type, _uuid);
        _core.Remove(old);
        var current = _core.Create(_type, _uuid);
        string socket = VfioUserService.SocketPathFor(_dir, _uuid);
        // An observer call for the earlier instance, arriving after the new one exists, must be ignored.
        _service.OnDeviceRemoving(old, MdevRemoveReason.UserRequest);
        _service.OnDeviceRemoved(old);
        Assert.NotNull(_service.FindEndpoint(_uuid));
        Assert.Contains(current.AttributeGroups, g => g.Name == VfioUserService.AttributeGroupName);
        using (var c = new RawClient(UnixSocket.Connect(socket)))
        {
            c.Negotiate();
        }
        _core.Remove(current);
        Assert.False(Path.Exists(socket));
    }

    /// <summary>True if the device is fully there; asserts it is fully gone otherwise.</summary>
    private bool AssertWholeOrGone(int round)
    {
        string link = VfioUserService.SocketPathFor(_dir, _uuid);
        string folder = VfioUserService.DeviceDirectoryFor(_dir, _uuid);
        if (_core.FindDevice(_uuid) is { } mdev)
        {
            var group = mdev.AttributeGroups.SingleOrDefault(g => g.Name == VfioUserService.AttributeGroupName);
            Assert.True(group is not null, $"round {round}: active device without vfio-user/socket");
            Assert.Equal(link + "\n", group.Attributes.Single(a => a.Name == VfioUserService.SocketAttributeName).Show!());
            Assert.Equal(0, _type.AvailableInstances);
            var endpoint = _service.FindEndpoint(_uuid);
            Assert.NotNull(endpoint);
            using (var c = new RawClient(UnixSocket.Connect(link)))
            {
                c.Negotiate(); // the device file opens: the endpoint serves this live device
                using var info = c.Call(VfioUserCommand.DeviceGetInfo, RawClient.U32s(16, 0, 0, 0));
                Assert.False(info.Header.IsError, $"round {round}: GET_INFO failed with {info.Error}");
            }
            Assert.True(SpinWait.SpinUntil(() => !endpoint.HasClient, TimeSpan.FromSeconds(30)), "session did not end");
            return true;
        }
        Assert.False(Path.Exists(link) || new FileInfo(link).LinkTarget is not null, $"round {round}: socket link left");
        Assert.False(Directory.Exists(folder), $"round {round}: socket folder left");
        Assert.Null(_service.FindEndpoint(_uuid));
        Assert.Equal(1, _type.AvailableInstances);
        return false;
    }
}
