using Microsoft.Extensions.Logging.Abstractions;
using Umdev.Core;
using Umdev.Devices.Mtty;
using Umdev.Interop;
using Umdev.VfioUser.Protocol;
using Umdev.VfioUser.Server;

namespace Umdev.VfioUser.Tests;

/// <summary>Many devices nobody is connected to, served by the real service: they cost no thread each.</summary>
public sealed class IdleDeviceTests : IDisposable
{
    private const int Devices = 200;
    private readonly string _dir = Path.Combine("/tmp", "vui-" + Guid.NewGuid().ToString("N")[..10]);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static int Threads() =>
        int.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("Threads:", StringComparison.Ordinal))["Threads:".Length..].Trim(),
            System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void Two_hundred_idle_devices_add_a_few_threads_at_most_and_each_still_serves_a_client()
    {
        var core = new MdevCore();
        var parent = Mtty.Register(core, new MttyOptions(Ports: Devices + 1));
        var type = parent.FindType("mtty-1")!;
        try
        {
            using var service = new VfioUserService(core, _dir, NullLoggerFactory.Instance);
            // One device served once first: whatever the process starts on first use (the shared listeners' threads,
            // the runtime's timer) exists before counting.
            var first = core.Create(type, Guid.NewGuid());
            using (var c = Connect(first)) ReadLsr(c);
            core.Remove(first);

            int before = Threads();
            var devices = Enumerable.Range(0, Devices).Select(_ => core.Create(type, Guid.NewGuid())).ToArray();
            int idle = Threads();
            // A thread per listening device would add 200.
            Assert.InRange(idle - before, -10, 10);

            // Clients of a few of them, at once: each is negotiated and answered, and a second client of one is refused.
            var clients = new[] { devices[0], devices[Devices / 2], devices[^1] }.Select(Connect).ToArray();
            try
            {
                foreach (var c in clients) ReadLsr(c);
                using (var second = new RawClient(UnixSocket.Connect(SocketOf(devices[0]))))
                    Assert.True(second.IsClosedByServer());
                ReadLsr(clients[0]);
            }
            finally
            {
                foreach (var c in clients) c.Dispose();
            }
            // A client gone, its device takes the next one; and a removal with nobody connected is immediate.
            using (var again = Connect(devices[0])) ReadLsr(again);
            foreach (var d in devices) core.Remove(d);
            Assert.Empty(Directory.GetFiles(_dir, "*.sock"));
        }
        finally
        {
            Mtty.Unregister(core, parent);
        }
    }

    [Fact]
    public void Quiet_clients_give_their_threads_back_and_are_answered_when_they_talk_again()
    {
        const int Clients = 20;
        var core = new MdevCore();
        var parent = Mtty.Register(core, new MttyOptions(Ports: Clients + 2));
        var type = parent.FindType("mtty-1")!;
        var options = new VfioUserServiceOptions
        {
            Server = new VfioUserServerOptions { IdleThreadTimeout = TimeSpan.FromMilliseconds(100), VersionTimeout = TimeSpan.FromMilliseconds(500) },
        };
        var clients = new List<RawClient>();
        try
        {
            using var service = new VfioUserService(core, _dir, NullLoggerFactory.Instance, options);
            var first = core.Create(type, Guid.NewGuid());
            using (var c = Connect(first)) ReadLsr(c);
            core.Remove(first);

            int before = Threads();
            var devices = Enumerable.Range(0, Clients).Select(_ => core.Create(type, Guid.NewGuid())).ToArray();
            foreach (var d in devices) clients.Add(Connect(d));
            // Connected, negotiated and then silent: their threads go (a thread each would add 20).
            Assert.True(SpinWait.SpinUntil(() => Threads() - before <= 3, TimeSpan.FromSeconds(10)), $"{Threads() - before} threads more than before");

            // Each is answered when it talks again, and a quiet session still holds its device against a second client.
            foreach (var c in clients) ReadLsr(c);
            Assert.True(SpinWait.SpinUntil(() => Threads() - before <= 3, TimeSpan.FromSeconds(10)));
            using (var second = new RawClient(UnixSocket.Connect(SocketOf(devices[0]))))
                Assert.True(second.IsClosedByServer());
            ReadLsr(clients[0]);

            // A quiet connection that never sent VERSION is still closed at the deadline, and the device serves again.
            var spare = core.Create(type, Guid.NewGuid());
            using (var silent = new RawClient(UnixSocket.Connect(SocketOf(spare))))
                Assert.True(silent.IsClosedByServer(5000));
            using (var c = Connect(spare)) ReadLsr(c);

            // A client that leaves while quiet frees its device for the next.
            clients[1].Dispose();
            using (var next = Connect(devices[1])) ReadLsr(next);
        }
        finally
        {
            // The parent going away closes the quiet connections still open: the rest see their end.
            Mtty.Unregister(core, parent);
            foreach (var c in clients.Skip(2)) Assert.True(c.IsClosedByServer(5000));
            foreach (var c in clients) c.Dispose();
        }
    }

    private string SocketOf(MdevDevice mdev) => VfioUserService.SocketPathFor(_dir, mdev.Uuid);

    private RawClient Connect(MdevDevice mdev)
    {
        var c = new RawClient(UnixSocket.Connect(SocketOf(mdev)));
        c.Negotiate().Dispose();
        return c;
    }

    /// <summary>A 1-byte REGION_READ of the UART's line status register (BAR0 + 5): answered, with one byte.</summary>
    private static void ReadLsr(RawClient c)
    {
        using var r = c.Call(VfioUserCommand.RegionRead, RawClient.RegionAccess(5, 0, 1));
        Assert.False(r.Header.IsError);
        Assert.Single(r.Payload[16..]);
    }
}
