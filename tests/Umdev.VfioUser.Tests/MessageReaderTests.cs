using Umdev.Interop;
using Umdev.VfioUser.Transport;

namespace Umdev.VfioUser.Tests;

/// <summary>The message reader over a real socket pair.</summary>
public class MessageReaderTests
{
    /// <summary>
    /// A protected message that ends exactly at the end of the reader's buffer, with nothing after it
    /// buffered yet: the next read must make room instead of receiving into no space (which looks like
    /// end of stream and would drop the client).
    /// </summary>
    [Fact]
    public void ReadsOnAfterAProtectedMessageThatFillsTheBuffer()
    {
        const int BufferSize = 64; // the pool hands out exactly this size
        var (server, client) = UnixSocket.CreatePair();
        using var c = client;
        using var reader = new VfioUserMessageReader(new SocketTransport(server), maxMessage: 4096, initialBuffer: BufferSize);
        var first = RawClient.Message(1, 1, Enumerable.Range(0, BufferSize - 16).Select(i => (byte)i).ToArray());
        var second = RawClient.Message(2, 1, [0xAA, 0xBB]);
        c.Send(first);
        c.Send(second);

        Assert.Equal(VfioUserReadStatus.Message, reader.Read());
        Assert.Equal(1, reader.Header.Id);
        var firstPayload = reader.Payload.ToArray();
        reader.ProtectCurrent();
        var read = reader.Read();
        Assert.Equal(VfioUserReadStatus.Message, read);
        Assert.Equal(2, reader.Header.Id);
        Assert.Equal(new byte[] { 0xAA, 0xBB }, reader.Payload.ToArray());
        Assert.Equal(first[16..], firstPayload);
        reader.EndProtection();
        c.Shutdown();
        Assert.Equal(VfioUserReadStatus.EndOfStream, reader.Read());
    }

    /// <summary>
    /// A socket with a receive timeout: between messages the reader reports the quiet peer (when asked to), but in
    /// the middle of a message it waits on, so a slow sender never loses its half-sent message.
    /// </summary>
    [Fact]
    public void ReportsAQuietPeerOnlyBetweenMessages()
    {
        var (server, client) = UnixSocket.CreatePair();
        using var c = client;
        server.SetReceiveTimeout(TimeSpan.FromMilliseconds(50));
        using var reader = new VfioUserMessageReader(new SocketTransport(server), maxMessage: 4096);
        Assert.Equal(VfioUserReadStatus.Quiet, reader.Read(quietEnds: true));

        var message = RawClient.Message(7, 1, [1, 2, 3, 4]);
        c.Send(message.AsSpan(0, 10));
        var rest = Task.Run(() =>
        {
            Thread.Sleep(300); // several timeouts pass mid-message
            c.Send(message.AsSpan(10));
        });
        Assert.Equal(VfioUserReadStatus.Message, reader.Read(quietEnds: true));
        Assert.Equal(7, reader.Header.Id);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, reader.Payload.ToArray());
        rest.Wait();

        Assert.Equal(VfioUserReadStatus.Quiet, reader.Read(quietEnds: true));
        c.Send(RawClient.Message(8, 1, []));
        Assert.Equal(VfioUserReadStatus.Message, reader.Read(quietEnds: true));
        Assert.Equal(8, reader.Header.Id);
        c.Shutdown();
        Assert.Equal(VfioUserReadStatus.EndOfStream, reader.Read(quietEnds: true));
    }
}
