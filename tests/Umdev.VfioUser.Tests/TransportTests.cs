using Microsoft.Extensions.Logging.Abstractions;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.VfioUser.Protocol;
using Umdev.VfioUser.Server;
using Umdev.VfioUser.Transport;

namespace Umdev.VfioUser.Tests;

/// <summary>A session driven over any <see cref="IVfioUserTransport"/>, without a listening socket.</summary>
public class TransportTests
{
    /// <summary>Delivers the stream one byte per receive: the worst fragmentation a transport can produce.</summary>
    private sealed class TricklingTransport(IVfioUserTransport inner) : IVfioUserTransport
    {
        public int Receive(Span<byte> buffer, List<FileDescriptorHandle> fds, out bool fdsTruncated) =>
            inner.Receive(buffer[..Math.Min(1, buffer.Length)], fds, out fdsTruncated);

        public void Send(ReadOnlySpan<byte> data, ReadOnlySpan<FileDescriptorHandle> fds) => inner.Send(data, fds);
        public void Shutdown() => inner.Shutdown();
        public bool WaitReadable(int timeoutMs) => inner.WaitReadable(timeoutMs);
        public void Dispose() => inner.Dispose();
    }

    [Fact]
    public void SessionServesOverACustomTransport()
    {
        using var f = new ServerFixture();
        var (server, client) = UnixSocket.CreatePair();
        var session = new VfioUserSession(f.Device.Vfio(), new TricklingTransport(new SocketTransport(server)),
            new VfioUserServerOptions(), NullLogger.Instance);
        var thread = new Thread(session.Run) { IsBackground = true };
        thread.Start();
        using (var c = new RawClient(client))
        {
            c.Negotiate();
            using (c.Call(VfioUserCommand.RegionWrite, RawClient.RegionAccess(1, 0, 2, [0x31, 0x32]))) { }
            using var r = c.Call(VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 0, 3));
            Assert.Equal(new byte[] { 0, 0x31, 0x32 }, r.Payload[16..]);
            using var e = EventFd.Create();
            using (var s = c.Call(VfioUserCommand.DeviceSetIrqs, RawClient.U32s(20, 0x24, 0, 0, 1), e)) Assert.Equal(Errno.None, s.Error);
        }
        Assert.True(thread.Join(TimeSpan.FromSeconds(60)));
        Assert.Equal(0, f.Device.Vfio().OpenCount);
        Assert.Equal(0, f.Ops().ActiveTriggers);
    }

    /// <summary>
    /// Descriptors attached to bytes in the middle of a message are refused. The trickling transport makes
    /// every byte its own read, so the server sees exactly where they arrived (over a socket the kernel may
    /// merge the two sends into one read, and then they look attached to the message's start).
    /// </summary>
    [Fact]
    public void DescriptorsArrivingInsideAMessageAreRefused()
    {
        using var f = new ServerFixture();
        var (server, client) = UnixSocket.CreatePair();
        var session = new VfioUserSession(f.Device.Vfio(), new TricklingTransport(new SocketTransport(server)),
            new VfioUserServerOptions(), NullLogger.Instance);
        var thread = new Thread(session.Run) { IsBackground = true };
        thread.Start();
        using (var c = new RawClient(client))
        {
            c.Negotiate();
            using var intx = EventFd.Create();
            var m = RawClient.Message(5, (ushort)VfioUserCommand.DeviceSetIrqs, RawClient.U32s(20, 0x24, 0, 0, 1));
            c.Send(m[..10]);
            c.Send(m[10..], intx);
            using (var r = c.Receive()!)
            {
                Assert.Equal(5, r.Header.Id);
                Assert.Equal(Errno.EINVAL, r.Error);
            }
            Assert.Equal(0, f.Ops().ActiveTriggers);
            using var ok = c.Call(VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 0, 1));
            Assert.Equal(Errno.None, ok.Error);
        }
        Assert.True(thread.Join(TimeSpan.FromSeconds(60)));
    }
}
