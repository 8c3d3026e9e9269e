using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.VfioUser.Protocol;

namespace Umdev.VfioUser.Tests;

/// <summary>Issue 4 item 5: every message is untrusted. Raw bytes on a real socket.</summary>
public class UntrustedInputTests
{
    private static void AssertServes(RawClient c, byte expectedBar0First = 0)
    {
        using var r = c.Call(VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 0, 1));
        Assert.False(r.Header.IsError);
        Assert.Equal(17, r.Payload.Length);
        Assert.Equal(expectedBar0First, r.Payload[16]);
    }

    [Fact]
    public void MessageArrivingInPiecesIsAssembled()
    {
        using var f = new ServerFixture();
        using var c = f.Negotiated();
        var m = RawClient.Message(42, (ushort)VfioUserCommand.RegionWrite, RawClient.RegionAccess(2, 0, 3, [7, 8, 9]));
        var read = RawClient.Message(43, (ushort)VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 0, 8));
        byte[] both = [.. m, .. read];
        // Byte by byte through the header, then odd-sized pieces, each its own send.
        int at = 0;
        foreach (int piece in new[] { 1, 1, 1, 1, 5, 3, 4, 7, 2, 11, 9 })
        {
            c.Send(both[at..(at + piece)]);
            at += piece;
            Thread.Sleep(1);
        }
        c.Send(both[at..]);
        using var w = c.Receive()!;
        Assert.Equal(42, w.Header.Id);
        Assert.False(w.Header.IsError);
        using var r = c.Receive()!;
        Assert.Equal(43, r.Header.Id);
        Assert.Equal(new byte[] { 0, 0, 7, 8, 9, 0, 0, 0 }, r.Payload[16..]);
    }

    [Fact]
    public void OversizedMessageGetsAnErrorAndItsBodyIsConsumed()
    {
        using var f = new ServerFixture();
        using var c = f.Negotiated();
        int size = 16 + 16 + (1 << 20) + 4096;
        var big = new byte[size];
        new VfioUserHeader(5, (ushort)VfioUserCommand.RegionWrite, (uint)size, 0, 0).Write(big);
        big.AsSpan(16).Fill(0xEE); // a body that would look like garbage headers if misread
        var sender = Task.Run(() => c.Send(big));
        using var r = c.Receive()!;
        Assert.Equal(5, r.Header.Id);
        Assert.Equal(Errno.E2BIG, r.Error);
        sender.Wait();
        AssertServes(c);
    }

    [Theory]
    [InlineData(uint.MaxValue)]
    [InlineData(2u * (16 + 16 + (1 << 20)) + 1)] // just past what the server would read and discard
    public void ASizeNoMessageCanHaveGetsAnErrorAndTheConnectionIsClosed(uint size)
    {
        using var f = new ServerFixture();
        using (var c = f.Negotiated())
        {
            // Only the header: a server waiting for the body would never answer, nor let the device go.
            var header = new byte[16];
            new VfioUserHeader(6, (ushort)VfioUserCommand.RegionWrite, size, 0, 0).Write(header);
            c.Send(header);
            using var r = c.Receive()!;
            Assert.Equal(6, r.Header.Id);
            Assert.Equal(Errno.E2BIG, r.Error);
            Assert.True(c.IsClosedByServer());
        }
        f.WaitNoClient();
        using var next = f.Negotiated();
        AssertServes(next);
    }

    [Fact]
    public void ShortPayloadGetsEinvalAndTheStreamStaysInSync()
    {
        using var f = new ServerFixture();
        using var c = f.Negotiated();
        using (var r = c.Call(VfioUserCommand.RegionRead, new byte[7])) Assert.Equal(Errno.EINVAL, r.Error);
        using (var r = c.Call(VfioUserCommand.DeviceGetRegionInfo, RawClient.U32s(32, 0))) Assert.Equal(Errno.EINVAL, r.Error);
        using (var r = c.Call(VfioUserCommand.RegionWrite, RawClient.RegionAccess(0, 0, 4, [1, 2]))) Assert.Equal(Errno.EINVAL, r.Error);
        AssertServes(c);
    }

    [Fact]
    public void OutOfRangeIndexesOffsetsAndCountsAreRefused()
    {
        using var f = new ServerFixture();
        using var c = f.Negotiated();
        (ulong Offset, uint Region, uint Count, Errno Errno)[] cases =
        [
            (0, 0, 9, Errno.EINVAL),                       // beyond BAR0's 8 bytes (driver)
            (ulong.MaxValue, 0, 1, Errno.EINVAL),          // offset overflow
            ((1UL << 40) - 1, 0, 2, Errno.EINVAL),         // spills into the next region's window
            (0, uint.MaxValue, 1, Errno.EINVAL),           // index << 40 would overflow
            (0, 0, (1u << 20) + 1, Errno.E2BIG),           // above max_data_xfer_size
        ];
        foreach (var k in cases)
        {
            using var r = c.Call(VfioUserCommand.RegionRead, RawClient.RegionAccess(k.Offset, k.Region, k.Count));
            Assert.Equal(k.Errno, r.Error);
        }
        using (var r = c.Call(VfioUserCommand.DeviceGetRegionInfo, RawClient.U32s(32, 0, 99, 0, 0, 0, 0, 0))) Assert.Equal(Errno.EINVAL, r.Error);
        using (var r = c.Call(VfioUserCommand.DeviceGetIrqInfo, RawClient.U32s(16, 0, 3, 0))) Assert.Equal(Errno.EINVAL, r.Error);
        using (var r = c.Call(VfioUserCommand.DeviceSetIrqs, RawClient.U32s(20, 0x21, 0, uint.MaxValue, 2))) Assert.Equal(Errno.EINVAL, r.Error);
        AssertServes(c);
    }

    [Fact]
    public void UnknownCommandsGetEnosys()
    {
        using var f = new ServerFixture();
        using var c = f.Negotiated();
        foreach (ushort command in new ushort[] { 0, 11, 12, 14, 19, 999, ushort.MaxValue })
        {
            using var r = c.Call((VfioUserCommand)command, new byte[8]);
            Assert.Equal(Errno.ENOSYS, r.Error);
        }
        AssertServes(c);
    }

    [Fact]
    public void WrongNumberOfDescriptorsGetsEinvalAndTheyAreClosed()
    {
        using var f = new ServerFixture();
        using var c = f.Negotiated();
        using var a = EventFd.Create();
        using var b = EventFd.Create();
        using var memfd = MemFd.Create("not-an-eventfd", 4096);
        int before = FdCount.Now();
        // SET_IRQS EVENTFD|TRIGGER count 1 with two descriptors.
        using (var r = c.Call(VfioUserCommand.DeviceSetIrqs, RawClient.U32s(20, 0x24, 0, 0, 1), a, b)) Assert.Equal(Errno.EINVAL, r.Error);
        // A command that takes none.
        using (var r = c.Call(VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 0, 1), a)) Assert.Equal(Errno.EINVAL, r.Error);
        // DMA_MAP takes at most one.
        var map = new byte[32];
        new DmaMapRequest { Flags = VfioDmaProtection.Read, Address = 0x1000, Size = 0x1000 }.Write(map);
        using (var r = c.Call(VfioUserCommand.DmaMap, map, a, b)) Assert.Equal(Errno.EINVAL, r.Error);
        // A descriptor that is not an eventfd.
        using (var r = c.Call(VfioUserCommand.DeviceSetIrqs, RawClient.U32s(20, 0x24, 0, 0, 1), memfd)) Assert.Equal(Errno.EINVAL, r.Error);
        // More descriptors than the control buffer holds (MSG_CTRUNC).
        var many = Enumerable.Range(0, 20).Select(_ => (FileDescriptorHandle)EventFd.Create()).ToArray();
        using (var r = c.Call(VfioUserCommand.DeviceSetIrqs, RawClient.U32s(20, 0x24, 0, 0, 1), many)) Assert.Equal(Errno.EINVAL, r.Error);
        foreach (var h in many) h.Dispose();
        FdCount.SettlesAt(before);
        Assert.Equal(0, f.Ops().ActiveTriggers);
        AssertServes(c);
    }

    [Fact]
    public void PipelinedMessagesKeepTheirOwnDescriptors()
    {
        using var f = new ServerFixture();
        using var c = f.Negotiated();
        using var intx = EventFd.Create();
        c.Send(RawClient.Message(1, (ushort)VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 0, 1)));
        c.Send(RawClient.Message(2, (ushort)VfioUserCommand.DeviceSetIrqs, RawClient.U32s(20, 0x24, 0, 0, 1)), intx);
        c.Send(RawClient.Message(3, (ushort)VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 0, 1)));
        for (ushort id = 1; id <= 3; id++)
        {
            using var r = c.Receive()!;
            Assert.Equal(id, r.Header.Id);
            Assert.Equal(Errno.None, r.Error);
        }
        f.Ops().RaiseIntx();
        Assert.Equal(1ul, intx.Wait(30000));
    }

    [Fact]
    public void NoReplyCommandsAreNeverAnswered()
    {
        using var f = new ServerFixture();
        using var c = f.Negotiated();
        c.Send(RawClient.Message(1, (ushort)VfioUserCommand.RegionWrite, RawClient.RegionAccess(0, 0, 1, [0x5A]), flags: 0x10));
        c.Send(RawClient.Message(2, 999, [], flags: 0x10));                                            // unknown: no error reply either
        c.Send(RawClient.Message(3, (ushort)VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 0, 9), flags: 0x10)); // failing
        c.Send(RawClient.Message(4, (ushort)VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 0, 1)));
        using var r = c.Receive()!;
        Assert.Equal(4, r.Header.Id);
        Assert.Equal(0x5A, r.Payload[16]);
    }

    [Fact]
    public void MalformedSizeClosesTheConnectionAndTheDeviceServesTheNextClient()
    {
        using var f = new ServerFixture();
        using (var c = f.Negotiated())
        {
            var m = RawClient.Message(1, (ushort)VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 0, 1), size: 8);
            c.Send(m);
            Assert.True(c.IsClosedByServer());
        }
        f.WaitNoClient();
        using var next = f.Negotiated();
        AssertServes(next);
    }

    [Fact]
    public void DisconnectInTheMiddleOfAMessageLeavesTheDaemonWorking()
    {
        using var f = new ServerFixture(devices: 2);
        using var other = f.Negotiated(1);
        using (var c = f.Negotiated())
        {
            var m = RawClient.Message(1, (ushort)VfioUserCommand.RegionWrite, RawClient.RegionAccess(0, 0, 4, [1, 2, 3, 4]));
            c.Send(m[..20]);
        }
        f.WaitNoClient();
        AssertServes(other);
        using var again = f.Negotiated();
        AssertServes(again);
    }

    [Fact]
    public void GarbageOnOneDeviceDoesNotDisturbAnother()
    {
        using var f = new ServerFixture(devices: 2);
        using var other = f.Negotiated(1);
        var rng = new Random(1234);
        for (int round = 0; round < 20; round++)
        {
            using var c = f.Raw();
            var junk = new byte[rng.Next(1, 4096)];
            rng.NextBytes(junk);
            try { c.Send(junk); } catch (ErrnoException) { }
            try { while (c.Receive(30000) is { } r) r.Dispose(); } catch (Exception e) when (e is ErrnoException or InvalidOperationException) { }
            f.WaitNoClient();
        }
        AssertServes(other);
        using var good = f.Negotiated();
        AssertServes(good);
    }

    [Fact]
    public void FloodingClientBlocksOnlyItsOwnDevice()
    {
        using var f = new ServerFixture(devices: 2);
        using var other = f.Negotiated(1);
        var flood = f.Negotiated();
        var read = RawClient.Message(1, (ushort)VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 3, 256));
        var batch = Enumerable.Repeat(read, 1000).SelectMany(x => x).ToArray();
        // Never read the replies: the server's sends back up and its session blocks; nothing else may.
        var flooder = Task.Run(() =>
        {
            try { for (int i = 0; i < 200; i++) flood.Send(batch); }
            catch (Exception e) when (e is ErrnoException or ObjectDisposedException) { }
        });
        for (int i = 0; i < 100; i++) AssertServes(other);
        flood.Socket.Shutdown(); // wakes the flooder if it is blocked in send
        flooder.Wait(TimeSpan.FromSeconds(60));
        flood.Dispose();
        flooder.Wait(TimeSpan.FromSeconds(60));
        f.WaitNoClient();
        using var again = f.Negotiated();
        AssertServes(again);
    }

    [Fact]
    public void ReplyTypedAndUnknownTypeMessagesDoNotBreakTheStream()
    {
        using var f = new ServerFixture();
        using var c = f.Negotiated();
        c.Send(RawClient.Message(77, (ushort)VfioUserCommand.DmaRead, new byte[16], flags: 0x1)); // a reply nobody asked for
        c.Send(RawClient.Message(78, (ushort)VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 0, 1), flags: 0x7));
        using var r = c.Receive()!;
        Assert.Equal(78, r.Header.Id);
        Assert.Equal(Errno.EINVAL, r.Error);
        AssertServes(c);
    }

    [Fact]
    public void ErrorReplyCarriesTheDriversErrno()
    {
        using var f = new ServerFixture();
        using var c = f.Negotiated();
        // The test device declares no MSI-X: TRIGGER on it is ENOTTY.
        using var r = c.Call(VfioUserCommand.DeviceSetIrqs, RawClient.U32s(20, 0x21, 2, 0, 1));
        Assert.Equal(Errno.ENOTTY, r.Error);
        Assert.Equal(16u, r.Header.Size);
        Assert.Equal(0x21u, (uint)r.Header.Flags);
        _ = BinaryPrimitives.ReadUInt32LittleEndian(RawClient.U32s(1));
    }
}
