using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Umdev.Interop;
using Umdev.VfioUser.Protocol;

namespace Umdev.VfioUser.Tests;

public class NegotiationTests
{
    [Fact]
    public void VersionReplyIsShortValidJsonAndNeverLongerThanTheRequest()
    {
        using var f = new ServerFixture();
        using var c = f.Raw();
        var request = RawClient.Message(1, 1, RawClient.VersionPayload());
        c.Send(request);
        using var r = c.Receive()!;
        Assert.False(r.Header.IsError);
        Assert.True(r.Header.Size <= request.Length);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(r.Payload));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(r.Payload.AsSpan(2)));
        Assert.Equal(0, r.Payload[^1]);
        using var doc = JsonDocument.Parse(r.Payload.AsMemory(4, r.Payload.Length - 5));
        var caps = doc.RootElement.GetProperty("capabilities");
        Assert.Equal(8, caps.GetProperty("max_msg_fds").GetInt32());
        Assert.Equal(1 << 20, caps.GetProperty("max_data_xfer_size").GetInt32());
    }

    /// <summary>A configured limit above what one receive can hold is announced as that receive limit.</summary>
    [Fact]
    public void AnnouncedMaxMsgFdsNeverExceedsWhatAReceiveHolds()
    {
        using var f = new ServerFixture(options: new VfioUserServiceOptions { Server = new() { MaxMsgFds = UnixSocket.MaxReceiveFds + 1 } });
        using var c = f.Raw();
        c.Send(RawClient.Message(1, 1, RawClient.VersionPayload()));
        using var r = c.Receive()!;
        Assert.False(r.Header.IsError);
        using var doc = JsonDocument.Parse(r.Payload.AsMemory(4, r.Payload.Length - 5));
        Assert.Equal(UnixSocket.MaxReceiveFds, doc.RootElement.GetProperty("capabilities").GetProperty("max_msg_fds").GetInt32());
    }

    [Fact]
    public void ShortVersionRequestGetsAShorterReplyWithJsonStillPresent()
    {
        using var f = new ServerFixture();
        using var c = f.Raw();
        var request = RawClient.Message(1, 1, RawClient.VersionPayload(json: "{\"capabilities\":{}}"));
        c.Send(request);
        using var r = c.Receive()!;
        Assert.False(r.Header.IsError);
        Assert.True(r.Header.Size <= request.Length);
        Assert.Equal("{}", Encoding.UTF8.GetString(r.Payload.AsSpan(4, r.Payload.Length - 5)));
    }

    [Fact]
    public void CommandBeforeVersionIsRefusedAndTheConnectionClosed()
    {
        using var f = new ServerFixture();
        using var c = f.Raw();
        c.Send(RawClient.Message(7, (ushort)VfioUserCommand.DeviceGetInfo, RawClient.U32s(16, 0, 0, 0)));
        using var r = c.Receive()!;
        Assert.Equal(Errno.EINVAL, r.Error);
        Assert.Equal(7, r.Header.Id);
        Assert.True(c.IsClosedByServer());
    }

    [Fact]
    public void SecondVersionIsRefusedAndTheConnectionClosed()
    {
        using var f = new ServerFixture();
        using var c = f.Negotiated();
        c.Send(RawClient.Message(9, 1, RawClient.VersionPayload()));
        using var r = c.Receive()!;
        Assert.Equal(Errno.EINVAL, r.Error);
        Assert.True(c.IsClosedByServer());
    }

    [Theory]
    [InlineData("{\"capabilities\":")]
    [InlineData("[1,2]")]
    [InlineData("{\"capabilities\":{\"max_msg_fds\":\"many\"}}")]
    [InlineData("{\"capabilities\":7}")]
    public void BadJsonIsRefusedAndTheConnectionClosed(string json)
    {
        using var f = new ServerFixture();
        using var c = f.Raw();
        c.Send(RawClient.Message(1, 1, RawClient.VersionPayload(json: json)));
        using var r = c.Receive()!;
        Assert.Equal(Errno.EINVAL, r.Error);
        Assert.True(c.IsClosedByServer());
    }

    /// <summary>Found by tools/fuzz: a key that is not UTF-8 escaped as InvalidOperationException (no reply, a logged driver fault).</summary>
    [Theory]
    [InlineData(new byte[] { 0xff })]
    [InlineData(new byte[] { 0xc3 })]
    [InlineData(new byte[] { 0xed, 0xa0, 0x80 })] // a UTF-16 surrogate encoded in UTF-8
    public void JsonThatIsNotUtf8IsRefusedWithEinval(byte[] bad)
    {
        byte[] json = [.. "{\"capabilities\":{\""u8, .. bad, .. "\":1}}"u8];
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => VfioUserCapabilities.Parse(json)).Errno);
        using var f = new ServerFixture();
        using var c = f.Raw();
        c.Send(RawClient.Message(1, 1, [0, 0, 0, 0, .. json, 0]));
        using var r = c.Receive()!;
        Assert.Equal(Errno.EINVAL, r.Error);
        Assert.True(c.IsClosedByServer());
    }

    [Fact]
    public void JsonWithoutItsNulIsRefused()
    {
        using var f = new ServerFixture();
        using var c = f.Raw();
        c.Send(RawClient.Message(1, 1, RawClient.VersionPayload(json: "{}", nul: false)));
        using var r = c.Receive()!;
        Assert.Equal(Errno.EINVAL, r.Error);
        Assert.True(c.IsClosedByServer());
    }

    [Fact]
    public void WrongMajorVersionIsRefusedAndTheConnectionClosed()
    {
        using var f = new ServerFixture();
        using var c = f.Raw();
        c.Send(RawClient.Message(1, 1, RawClient.VersionPayload(major: 1)));
        using var r = c.Receive()!;
        Assert.True(r.Header.IsError);
        Assert.NotEqual(0u, r.Header.Error);
        Assert.True(c.IsClosedByServer());
        // The device is free again for a proper client.
        f.WaitNoClient();
        using var good = f.Negotiated();
    }
}

public class NegotiationNoReplyTests
{
    [Fact]
    public void NoReplyVersionIsProcessedButNotAnswered()
    {
        using var f = new ServerFixture();
        using var c = f.Raw();
        c.Send(RawClient.Message(1, 1, RawClient.VersionPayload(), flags: 0x10));
        using var r = c.Call(VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 0, 1));
        Assert.False(r.Header.IsError);
    }
}
