using System.Diagnostics;
using Umdev.VfioUser.Protocol;
using Umdev.VfioUser.Server;

namespace Umdev.VfioUser.Tests;

public class VersionDeadlineTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMilliseconds(500);

    private static ServerFixture Fixture() =>
        new(options: new VfioUserServiceOptions { Server = new VfioUserServerOptions { VersionTimeout = Deadline } });

    [Fact]
    public void A_client_that_never_sends_VERSION_is_closed_at_the_deadline_and_the_next_one_is_served()
    {
        using var f = Fixture();
        var clock = Stopwatch.StartNew();
        using (var silent = f.Raw())
        {
            Assert.True(silent.IsClosedByServer(10_000));
            Assert.InRange(clock.Elapsed, Deadline * 0.9, TimeSpan.FromSeconds(8));
        }
        f.WaitNoClient();
        using var next = f.Negotiated();
        using var r = next.Call(VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 0, 1));
        Assert.False(r.Header.IsError);
    }

    [Fact]
    public void Half_a_VERSION_does_not_stretch_the_deadline()
    {
        using var f = Fixture();
        using var stalled = f.Raw();
        byte[] version = RawClient.Message(1, (ushort)VfioUserCommand.Version, RawClient.VersionPayload());
        stalled.Send(version[..10]);
        Assert.True(stalled.IsClosedByServer(10_000));
    }

    [Fact]
    public void A_client_that_negotiated_in_time_stays_past_the_deadline()
    {
        using var f = Fixture();
        using var c = f.Negotiated();
        Thread.Sleep(Deadline * 2);
        using var r = c.Call(VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 0, 1));
        Assert.False(r.Header.IsError);
    }

    [Fact]
    public void The_default_deadline_is_ten_seconds()
    {
        Assert.Equal(TimeSpan.FromSeconds(10), new VfioUserServerOptions().VersionTimeout);
    }
}
