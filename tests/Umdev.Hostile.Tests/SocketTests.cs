using System.Diagnostics;
using Umdev.Interop;
using Umdev.VfioUser.Client;
using Umdev.VfioUser.Protocol;

namespace Umdev.Hostile.Tests;

/// <summary>A vfio-user client that stalls, lies in its headers or floods: its own device recovers, nobody else notices.</summary>
[Collection(HostileCollection.Name)]
public sealed class SocketTests(HostileDaemon daemon)
{
    private readonly HostileDaemon d = daemon.Revived();

    private static readonly int VersionDeadlineMs = (HostileDaemon.VersionTimeoutSeconds + 3) * 1000;

    private static bool RefusedAsSecondClient(string socket)
    {
        try
        {
            using var second = VfioUserClient.Connect(socket);
            return false;
        }
        catch (Exception e) when (e is ErrnoException or IOException)
        {
            return true;
        }
    }

    /// <summary>Connects and sends nothing: a second client is refused meanwhile, and at the VERSION deadline the half-open one is closed.</summary>
    [Fact]
    public void AHalfOpenClientIsClosedAtTheVersionDeadlineAndTheDeviceServesAgain()
    {
        using var target = d.Attackable("mtty", "mtty-1");
        var watch = Stopwatch.StartNew();
        using (var silent = new RawClient(UnixSocket.Connect(target.Socket)))
        {
            Assert.True(RefusedAsSecondClient(target.Socket), "a second client was served beside the first");
            Assert.True(silent.IsClosedByServer(VersionDeadlineMs), "the silent client was never closed");
            Assert.InRange(watch.Elapsed.TotalSeconds, HostileDaemon.VersionTimeoutSeconds - 0.5, HostileDaemon.VersionTimeoutSeconds + 3);
        }
        using (var vmm = VfioUserClient.Connect(target.Socket)) vmm.GetInfo();
        d.AssertHealthy();
    }

    [Fact]
    public void APartialHeaderThenAStallIsClosedAtTheVersionDeadline()
    {
        using var target = d.Attackable("mtty", "mtty-1");
        using (var stalled = new RawClient(UnixSocket.Connect(target.Socket)))
        {
            stalled.Send(RawClient.Message(1, (ushort)VfioUserCommand.Version, RawClient.VersionPayload())[..9]);
            Assert.True(stalled.IsClosedByServer(VersionDeadlineMs), "a client stalled mid-header held the device");
        }
        // After VERSION, a partial header and a hang-up: the device is freed at once.
        using (var c = new RawClient(UnixSocket.Connect(target.Socket)))
        {
            c.Negotiate();
            c.Send(RawClient.Message(2, (ushort)VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 0, 1))[..7]);
        }
        using (var vmm = VfioUserClient.Connect(target.Socket)) vmm.GetInfo();
        d.AssertHealthy();
    }

    [Theory]
    [InlineData(0u, 0)]                 // size below a header
    [InlineData(15u, 0)]
    [InlineData(uint.MaxValue, 0)]      // no message is this big
    [InlineData(64u << 20, 0)]
    [InlineData(16u, 0xffff)]           // unknown command
    [InlineData(16u, 0)]                // command 0 (invalid)
    public void MalformedAndOversizedHeadersGetErrorsOrAClosedConnection(uint size, ushort command)
    {
        using var target = d.Attackable("mtty", "mtty-1");
        using (var c = new RawClient(UnixSocket.Connect(target.Socket)))
        {
            c.Negotiate();
            var header = new byte[16];
            new VfioUserHeader(9, command, size, 0, 0).Write(header);
            c.Send(header);
            try
            {
                using var r = c.Receive(VersionDeadlineMs);
                if (r is not null) Assert.True(r.Header.IsError, "a malformed message was answered as a success");
            }
            catch (Exception e) when (e is ErrnoException or InvalidOperationException) { } // closed mid-way
        }
        using (var c = new RawClient(UnixSocket.Connect(target.Socket)))
        {
            c.Negotiate();
            // A reply flag and reserved flag bits on a command, and an error flag with no error.
            foreach (uint flags in new uint[] { 1, 0xfffffff0, 0x20 })
            {
                c.Send(RawClient.Message(c.NextId(), (ushort)VfioUserCommand.DeviceGetInfo, RawClient.U32s(24, 0, 0, 0), flags));
                try
                {
                    using var r = c.Receive(2000);
                    if (r is null) break;
                }
                catch (Exception e) when (e is ErrnoException or InvalidOperationException or TimeoutException) { break; }
            }
        }
        using (var vmm = VfioUserClient.Connect(target.Socket)) vmm.GetInfo();
        d.AssertHealthy();
    }

    /// <summary>Thousands of requests sent without reading a reply, then a hang-up: the session ends and the device is free.</summary>
    [Fact]
    public void AFloodWithoutReadingRepliesEndsWhenTheClientLeaves()
    {
        using var target = d.Attackable("mtty", "mtty-1");
        using (var c = new RawClient(UnixSocket.Connect(target.Socket)))
        {
            c.Negotiate();
            var read = RawClient.Message(0, (ushort)VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 0, 8));
            var batch = new byte[read.Length * 256];
            for (int i = 0; i < 256; i++) read.CopyTo(batch, i * read.Length);
            var sender = Task.Run(() =>
            {
                try { for (int i = 0; i < 40; i++) c.Send(batch); } // 10,240 requests; blocks once both buffers are full
                catch (ErrnoException) { }
            });
            sender.Wait(TimeSpan.FromSeconds(3));
            c.Socket.Shutdown();
            sender.Wait(TimeSpan.FromSeconds(10));
        }
        HostileDaemon.WaitFor(() => !RefusedAsSecondClient(target.Socket), "the flooded device served again", 15);
        d.AssertHealthy();
    }
}
