using System.Buffers.Binary;
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Umdev.Core;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.VfioUser.Client;
using Umdev.VfioUser.Protocol;

namespace Umdev.VfioUser.Tests;

/// <summary>
/// Shared memory a client holds a descriptor of can never fault the daemon: region memfds are sealed
/// before they are handed out, and client memory is mapped only when it is sealed against shrinking
/// (or the server can seal it), else reached by DMA_READ/DMA_WRITE copies. Through the real socket.
/// </summary>
public class SealedMemoryTests
{
    private static byte[] EngineRegisters(ulong iova, uint length, byte command)
    {
        var regs = new byte[13];
        BinaryPrimitives.WriteUInt64LittleEndian(regs, iova);
        BinaryPrimitives.WriteUInt32LittleEndian(regs.AsSpan(8), length);
        regs[12] = command;
        return regs;
    }

    private static void Engine(VfioUserClient c, ulong iova, uint length, byte command) => c.WriteRegion(2, 0, EngineRegisters(iova, length, command));

    private static byte[] Bar3(VfioUserClient c, int length)
    {
        var b = new byte[length];
        Assert.Equal(length, c.ReadRegion(3, 0, b));
        return b;
    }

    private static byte[] Pattern(int length, int seed) => Enumerable.Range(0, length).Select(i => (byte)(i * 7 + seed)).ToArray();

    [Fact]
    public void A_region_memfd_a_client_got_cannot_be_resized_and_region_reads_go_on()
    {
        using var f = new ServerFixture();
        using var c = VfioUserClient.Connect(f.SocketPath());
        var info = c.GetRegionInfo(4, 4096);
        using var fd = info.MmapHandle!;
        Assert.Equal(MemFdSeals.Shrink | MemFdSeals.Grow | MemFdSeals.Seal, MemFd.GetSeals(fd));
        Assert.Equal(Errno.EPERM, Assert.Throws<ErrnoException>(() => fd.SetLength(0)).Errno);
        Assert.Equal(Errno.EPERM, Assert.Throws<ErrnoException>(() => fd.SetLength(1 << 20)).Errno);
        Assert.Equal(Errno.EPERM, Assert.Throws<ErrnoException>(() => MemFd.Seal(fd, MemFdSeals.Write)).Errno); // could freeze the driver's writes
        Assert.Equal(8192, fd.GetRegularFileSize());

        using (var a = f.Ops().Bar4.Access(8000, 3)) a.Span.Fill(0x5A);
        var read = new byte[3];
        Assert.Equal(3, c.ReadRegion(4, 8000, read));  // the driver's side of the memory is intact
        Assert.Equal(new byte[] { 0x5A, 0x5A, 0x5A }, read);
        using var mapped = c.MapRegion(4, 4096, 4096);
        Assert.Equal(0x5A, mapped.Span(8000 - 4096, 1)[0]);
    }

    [Fact]
    public void A_sealed_descriptor_is_mapped_directly()
    {
        using var f = new ServerFixture();
        using var c = VfioUserClient.Connect(f.SocketPath());
        var mem = c.MapMemory(0x10000, 0x2000); // the client's memfd, sealed against resizing
        Pattern(64, 1).CopyTo(mem.Span);
        Engine(c, 0x10000, 64, 1);
        Assert.Equal(Pattern(64, 1), Bar3(c, 64));
        Assert.Equal(0, c.DmaRequestsServed);
    }

    [Fact]
    public void A_sealable_descriptor_is_sealed_by_the_server_and_then_cannot_shrink()
    {
        using var f = new ServerFixture();
        using var c = VfioUserClient.Connect(f.SocketPath());
        using var memfd = MemFd.Create("guest-ram", 0x2000, MemFdSeals.None);
        using var mine = MemoryMapping.Map(memfd, 0, 0x2000, writable: true);
        Pattern(64, 2).CopyTo(mine.Span(0x1000, 64));
        c.MapDma(0x10000, 0x2000, VfioDmaProtection.Read | VfioDmaProtection.Write, memfd);

        Assert.Equal(MemFdSeals.Shrink, MemFd.GetSeals(memfd) & MemFdSeals.Shrink);
        Assert.Equal(Errno.EPERM, Assert.Throws<ErrnoException>(() => memfd.SetLength(0)).Errno);
        Engine(c, 0x11000, 64, 1);
        Assert.Equal(Pattern(64, 2), Bar3(c, 64));
        Assert.Equal(0, c.DmaRequestsServed); // mapped, not copied
    }

    /// <summary>
    /// A descriptor sealed with F_SEAL_SEAL alone can never be sealed against shrinking: the server must not
    /// map it. The client shrinks it to nothing after DMA_MAP; the device's DMA then arrives as DMA_READ and
    /// DMA_WRITE requests, which this raw client answers from its own buffer.
    /// </summary>
    [Fact]
    public void An_unsealable_descriptor_truncated_after_DMA_MAP_is_served_by_copies()
    {
        using var f = new ServerFixture();
        using var c = f.Negotiated();
        using var memfd = MemFd.Create("hostile", 0x2000, MemFdSeals.Seal);
        var map = new byte[32];
        new DmaMapRequest { Flags = VfioDmaProtection.Read | VfioDmaProtection.Write, Address = 0x10000, Size = 0x2000 }.Write(map);
        using (var r = c.Call(VfioUserCommand.DmaMap, map, memfd)) Assert.Equal(Errno.None, r.Error);
        memfd.SetLength(0); // nothing stops the client: the server did not map it

        // Engine read: the device reads client memory, which must come as a DMA_READ request.
        var served = Pattern(64, 3);
        ushort id = c.NextId();
        c.Send(RawClient.Message(id, (ushort)VfioUserCommand.RegionWrite, RawClient.RegionAccess(0, 2, 13, EngineRegisters(0x10100, 64, 1))));
        using (var request = c.Receive()!)
        {
            Assert.True(request.Header.IsCommand);
            Assert.Equal((ushort)VfioUserCommand.DmaRead, request.Header.Command);
            var a = DmaAccess.Parse(request.Payload, withData: false);
            Assert.Equal((0x10100ul, 64ul), (a.Address, a.Count));
            var reply = new byte[DmaAccess.Length + 64];
            DmaAccess.WriteHead(reply, a.Address, a.Count);
            served.CopyTo(reply.AsSpan(DmaAccess.Length));
            c.Send(RawClient.Message(request.Header.Id, request.Header.Command, reply, flags: (uint)VfioUserFlags.Reply));
        }
        using (var done = c.Receive()!)
        {
            Assert.Equal(id, done.Header.Id);
            Assert.Equal(Errno.None, done.Error);
        }
        using (var bar3 = c.Call(VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 3, 64)))
            Assert.Equal(served, bar3.Payload.AsSpan(16).ToArray());

        // Engine write: the device writes client memory, which must come as a DMA_WRITE request.
        id = c.NextId();
        c.Send(RawClient.Message(id, (ushort)VfioUserCommand.RegionWrite, RawClient.RegionAccess(0, 2, 13, EngineRegisters(0x11000, 64, 2))));
        using (var request = c.Receive()!)
        {
            Assert.Equal((ushort)VfioUserCommand.DmaWrite, request.Header.Command);
            var a = DmaAccess.Parse(request.Payload, withData: true);
            Assert.Equal(served, a.Data.ToArray());
            var reply = new byte[DmaAccess.Length];
            DmaAccess.WriteHead(reply, a.Address, a.Count);
            c.Send(RawClient.Message(request.Header.Id, request.Header.Command, reply, flags: (uint)VfioUserFlags.Reply));
        }
        using (var done = c.Receive()!) Assert.Equal(Errno.None, done.Error);
    }

    [Fact]
    public void A_descriptor_that_is_not_a_regular_file_is_still_refused()
    {
        using var f = new ServerFixture();
        using var c = f.Negotiated();
        var (a, b) = UnixSocket.CreatePair();
        using (a)
        using (b)
        {
            var map = new byte[32];
            new DmaMapRequest { Flags = VfioDmaProtection.Read, Address = 0x10000, Size = 0x1000 }.Write(map);
            using var r = c.Call(VfioUserCommand.DmaMap, map, a);
            Assert.Equal(Errno.EINVAL, r.Error);
        }
    }

    [Fact]
    public void Closing_and_unmapping_the_client_side_after_DMA_MAP_leaves_the_server_unharmed()
    {
        using var f = new ServerFixture();
        int before = FdCount.Now();
        using (var c = VfioUserClient.Connect(f.SocketPath()))
        {
            var memfd = MemFd.Create("guest-ram", 0x2000);
            var mine = MemoryMapping.Map(memfd, 0, 0x2000, writable: true);
            Pattern(64, 4).CopyTo(mine.Span(0, 64));
            c.MapDma(0x10000, 0x2000, VfioDmaProtection.Read | VfioDmaProtection.Write, memfd);
            mine.Dispose();
            memfd.Dispose();

            Engine(c, 0x10000, 64, 1); // the server's mapping still holds the memory
            Assert.Equal(Pattern(64, 4), Bar3(c, 64));
            Engine(c, 0x10800, 64, 2);
            c.UnmapDma(0x10000, 0x2000);
        }
        f.WaitNoClient();
        FdCount.SettlesAt(before);
        using var again = VfioUserClient.Connect(f.SocketPath());
        Assert.Equal(4, again.ReadRegion(0, 0, new byte[4]));
    }

    [Fact]
    public void Copies_instead_of_a_mapping_are_logged_once_per_session()
    {
        var log = new RecordingLoggerFactory();
        string dir = Directory.CreateTempSubdirectory("vu-").FullName;
        var core = new MdevCore();
        var driver = new TestDriver();
        var parent = core.RegisterParent(new MdevParentSpec("vtest", "devices/virtual/vtest/vtest", "vtest", null,
            [new MdevTypeSpec("1", "test", "vfio-pci")]), driver);
        try
        {
            using var service = new VfioUserService(core, dir, log);
            var device = core.Create(parent.Types[0], Guid.NewGuid());
            for (int session = 0; session < 2; session++)
            {
                using var c = VfioUserClient.Connect(VfioUserService.SocketPathFor(dir, device.Uuid));
                using var a = MemFd.Create("unsealable-a", 0x1000, MemFdSeals.Seal);
                using var b = MemFd.Create("unsealable-b", 0x1000, MemFdSeals.Seal);
                c.MapDma(0x10000, 0x1000, VfioDmaProtection.Read, a);
                c.MapDma(0x20000, 0x1000, VfioDmaProtection.Read, b);
                using var sealedRam = MemFd.Create("sealed", 0x1000);
                c.MapDma(0x30000, 0x1000, VfioDmaProtection.Read, sealedRam);
            }
            Assert.Equal(2, log.Events.Count(e => e == VfioUserLogEvents.DmaCopiedUnsealed));
        }
        finally
        {
            core.UnregisterParent(parent);
            Directory.Delete(dir, true);
        }
    }

    private sealed class RecordingLoggerFactory : ILoggerFactory, ILogger
    {
        public ConcurrentQueue<int> Events { get; } = new();
        public ILogger CreateLogger(string categoryName) => this;
        public void AddProvider(ILoggerProvider provider) { }
        public void Dispose() { }
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Events.Enqueue(eventId.Id);
    }
}
