using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.VfioUser.Client;

namespace Umdev.VfioUser.Tests;

/// <summary>The DMA translation API through the test driver's DMA engine (BAR2/BAR3), over a real socket.</summary>
public class DmaTests
{
    private static void Engine(VfioUserClient c, ulong iova, uint length, byte command)
    {
        var regs = new byte[13];
        BinaryPrimitives.WriteUInt64LittleEndian(regs, iova);
        BinaryPrimitives.WriteUInt32LittleEndian(regs.AsSpan(8), length);
        regs[12] = command;
        c.WriteRegion(2, 0, regs);
    }

    private static byte[] Bar3(VfioUserClient c, int length)
    {
        var b = new byte[length];
        Assert.Equal(length, c.ReadRegion(3, 0, b));
        return b;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void DriverReadsAndWritesClientMemory(bool passFd)
    {
        using var f = new ServerFixture();
        using var c = VfioUserClient.Connect(f.SocketPath());
        var mem = c.MapMemory(0x10000, 0x2000, passFd: passFd);
        for (int i = 0; i < 64; i++) mem.Span[16 + i] = (byte)(i * 3);
        Engine(c, 0x10010, 64, 1);
        Assert.Equal(mem.Span.Slice(16, 64).ToArray(), Bar3(c, 64));
        c.WriteRegion(3, 0, Enumerable.Range(0, 32).Select(i => (byte)(0xF0 ^ i)).ToArray());
        Engine(c, 0x11000, 32, 2);
        Assert.Equal(Enumerable.Range(0, 32).Select(i => (byte)(0xF0 ^ i)).ToArray(), mem.Span.Slice(0x1000, 32).ToArray());
        Assert.Equal(passFd ? 0 : 2, c.DmaRequestsServed);
    }

    [Fact]
    public void BytesOutsideTheMappingsAreRefusedAndNothingIsTouched()
    {
        using var f = new ServerFixture();
        using var c = VfioUserClient.Connect(f.SocketPath());
        var mem = c.MapMemory(0x10000, 0x1000);
        mem.Span.Fill(0x11);
        c.WriteRegion(3, 0, Enumerable.Repeat((byte)0x99, 64).ToArray());
        // Ends 16 bytes past the mapping: the write must fail as a whole, leaving the mapped part intact.
        var e = Assert.Throws<ErrnoException>(() => Engine(c, 0x10FF0, 32, 2));
        Assert.Equal(Errno.EFAULT, e.Errno);
        Assert.All(mem.Span.ToArray(), b => Assert.Equal(0x11, b));
        Assert.Equal(Errno.EFAULT, Assert.Throws<ErrnoException>(() => Engine(c, 0x50000, 8, 1)).Errno);
        Assert.Equal(Errno.EFAULT, Assert.Throws<ErrnoException>(() => Engine(c, ulong.MaxValue - 3, 8, 1)).Errno);
    }

    [Fact]
    public void WritesToReadOnlyMappingsAreRefused()
    {
        using var f = new ServerFixture();
        using var c = VfioUserClient.Connect(f.SocketPath());
        var mem = c.MapMemory(0x20000, 0x1000, VfioDmaProtection.Read);
        Assert.Equal(Errno.EFAULT, Assert.Throws<ErrnoException>(() => Engine(c, 0x20000, 8, 2)).Errno);
        Engine(c, 0x20000, 8, 1);
        Assert.All(mem.Span.ToArray(), b => Assert.Equal(0, b));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PinsGiveAccessAndAreDroppedBeforeTheUnmapReply(bool passFd)
    {
        using var f = new ServerFixture();
        using var c = VfioUserClient.Connect(f.SocketPath());
        var mem = c.MapMemory(0x40000, 0x1000, passFd: passFd);
        mem.Span[..8].Fill(5);
        Engine(c, 0x40000, 8, 3);                 // pin
        Assert.True(f.Ops().PinHeld);
        Engine(c, 0, 0, 4);                       // increment through the pin
        Assert.All(mem.Span[..8].ToArray(), b => Assert.Equal(6, b));
        c.UnmapDma(0x40000, 0x1000);
        // The unmap reply came after the driver heard of it and let go.
        Assert.False(f.Ops().PinHeld);
        Assert.Contains((0x40000ul, 0x1000ul), f.Ops().Unmaps);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => Engine(c, 0, 0, 4)).Errno);
    }

    [Fact]
    public void OverlappingMapIsEexistAndUnmapMustMatchExactly()
    {
        using var f = new ServerFixture();
        using var c = VfioUserClient.Connect(f.SocketPath());
        c.MapDma(0x1000, 0x2000, VfioDmaProtection.Read);
        Assert.Equal(Errno.EEXIST, Assert.Throws<ErrnoException>(() => c.MapDma(0x2000, 0x1000, VfioDmaProtection.Read)).Errno);
        Assert.Equal(Errno.ENOENT, Assert.Throws<ErrnoException>(() => c.UnmapDma(0x1000, 0x1000)).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => c.MapDma(ulong.MaxValue, 2, VfioDmaProtection.Read)).Errno);
        c.MapDma(0x8000, 0x1000, VfioDmaProtection.Read);
        c.UnmapDma(0, 0, all: true);
        Assert.Empty(f.Device.Vfio().Dma!.Mappings);
        // A descriptor smaller than the range would fault on access: refused up front.
        using var small = MemFd.Create("small", 4096);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => c.MapDma(0x10000, 0x2000, VfioDmaProtection.Read, small)).Errno);
    }

    [Fact]
    public void DmaFromAnotherDriverThreadIsAnsweredWhileTheClientWaits()
    {
        using var f = new ServerFixture();
        using var c = VfioUserClient.Connect(f.SocketPath());
        var mem = c.MapMemory(0x60000, 0x1000, passFd: false);
        mem.Span[..4].CopyTo(new byte[4]);
        mem.Span[0] = 0xC3;
        var vfio = f.Device.Vfio();
        var got = new byte[4];
        var worker = Task.Run(() => vfio.DmaRead(0x60000, got));
        while (!worker.IsCompleted) c.ReadRegion(0, 0, new byte[1]);
        worker.Wait();
        Assert.Equal(0xC3, got[0]);
    }

    [Fact]
    public void IdleClientServesDmaRequestsWhenAsked()
    {
        using var f = new ServerFixture();
        using var c = VfioUserClient.Connect(f.SocketPath());
        var mem = c.MapMemory(0x70000, 0x1000, passFd: false);
        var vfio = f.Device.Vfio();
        var worker = Task.Run(() => vfio.DmaWrite(0x70010, new byte[] { 1, 2, 3 }));
        while (!worker.IsCompleted) c.ServeRequests(100);
        worker.Wait();
        Assert.Equal(new byte[] { 1, 2, 3 }, mem.Span.Slice(0x10, 3).ToArray());
    }

    [Fact]
    public void DriverDmaWithoutAClientIsEinval()
    {
        using var f = new ServerFixture();
        var vfio = f.Device.Vfio();
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => vfio.DmaRead(0, new byte[1])).Errno);
    }
}

/// <summary>A client that never answers the server's DMA requests only fails its own command.</summary>
public class DmaTimeoutTests
{
    [Fact]
    public void UnansweredDmaRequestTimesOutAndTheSessionGoesOn()
    {
        using var f = new ServerFixture(options: new VfioUserServiceOptions { Server = new Server.VfioUserServerOptions { DmaTimeout = TimeSpan.FromMilliseconds(200) } });
        using var c = f.Negotiated();
        var map = new byte[32];
        new Protocol.DmaMapRequest { Flags = VfioDmaProtection.Read | VfioDmaProtection.Write, Address = 0x10000, Size = 0x1000 }.Write(map);
        using (var r = c.Call(Protocol.VfioUserCommand.DmaMap, map)) Assert.Equal(Errno.None, r.Error);
        var regs = new byte[13];
        BinaryPrimitives.WriteUInt64LittleEndian(regs, 0x10000);
        BinaryPrimitives.WriteUInt32LittleEndian(regs.AsSpan(8), 8);
        regs[12] = 1;
        c.Send(RawClient.Message(50, (ushort)Protocol.VfioUserCommand.RegionWrite, RawClient.RegionAccess(0, 2, 13, regs)));
        using (var request = c.Receive()!)
        {
            Assert.True(request.Header.IsCommand);
            Assert.Equal((ushort)Protocol.VfioUserCommand.DmaRead, request.Header.Command);
            Assert.Equal(0x10000ul, BinaryPrimitives.ReadUInt64LittleEndian(request.Payload));
            Assert.Equal(8ul, BinaryPrimitives.ReadUInt64LittleEndian(request.Payload.AsSpan(8)));
        }
        using (var reply = c.Receive()!)
        {
            Assert.Equal(50, reply.Header.Id);
            Assert.Equal(Errno.ETIMEDOUT, reply.Error);
        }
        using var r2 = c.Call(Protocol.VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 0, 1));
        Assert.False(r2.Header.IsError);
    }
}
