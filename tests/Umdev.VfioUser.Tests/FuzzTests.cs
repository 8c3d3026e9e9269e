using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.VfioUser.Client;
using Umdev.VfioUser.Protocol;
using Xunit.Abstractions;

namespace Umdev.VfioUser.Tests;

/// <summary>
/// Seeded fuzzing: valid message streams, mutated, sent pipelined over real sockets (replies drained on
/// another thread). Each negotiated stream carries a probe just before its first framing break (or at its
/// end): the server must answer it correctly, i.e. it stayed in sync through every mutation before. Afterwards
/// the server must still answer correctly and hold no extra descriptor.
/// </summary>
public class FuzzTests(ITestOutputHelper output)
{
    private const int Messages = 100_000;
    private const ushort ProbeId = 0xBEEF;

    /// <summary>REGION_READ of BAR0's first byte, whose reply is recognised by id and the echoed offset, region and count.</summary>
    private static readonly byte[] Probe = RawClient.Message(ProbeId, (ushort)VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 0, 1));

    private static int Seed => int.TryParse(Environment.GetEnvironmentVariable("UMDEV_FUZZ_SEED"), out int s) ? s : 20261121;

    [Fact]
    public void MutatedStreamsLeaveTheServerCorrectAndLeakFree()
    {
        using var f = new ServerFixture(devices: 2);
        using var witness = VfioUserClient.Connect(f.SocketPath(1));
        witness.WriteRegion(0, 0, new byte[] { 9, 8, 7, 6 });
        int baseline = FdCount.Now();
        var rng = new Random(Seed);
        var corpus = Corpus();
        // Counted: messages the server certainly parsed, i.e. up to the first one that breaks the framing
        // (a size that disagrees with the bytes, or a fatal VERSION); the rest of that stream is still sent.
        int counted = 0, connections = 0, probed = 0;
        while (counted < Messages)
        {
            connections++;
            using var c = f.Raw();
            var probe = new TaskCompletionSource();
            var drain = StartDrain(c.Socket, probe);
            // VERSION first on most connections, so the mutations reach the command handlers.
            var stream = new List<(byte[] Bytes, bool WithFd)>();
            bool negotiated = rng.Next(20) != 0;
            if (negotiated) stream.Add((RawClient.Message(0, 1, RawClient.VersionPayload()), false));
            int batch = rng.Next(500, 5000), countable = negotiated ? 1 : 0;
            bool broken = !negotiated;
            for (int i = 0; i < batch; i++)
            {
                var m = (byte[])corpus[rng.Next(corpus.Count)].Clone();
                BinaryPrimitives.WriteUInt16LittleEndian(m, (ushort)i);
                if (rng.Next(4) == 0) m = Mutate(m, rng);
                bool breaks = BinaryPrimitives.ReadUInt32LittleEndian(m.AsSpan(4)) != (uint)m.Length || BinaryPrimitives.ReadUInt16LittleEndian(m.AsSpan(2)) == 1;
                if (!broken && breaks) stream.Add((Probe, false));
                stream.Add((m, rng.Next(30) == 0));
                if (broken) continue;
                countable++;
                broken = breaks;
            }
            if (!broken) stream.Add((Probe, false));
            int sent = 0;
            try
            {
                foreach (var (bytes, withFd) in stream)
                {
                    if (withFd)
                    {
                        using var e = EventFd.Create();
                        c.Send(bytes, e);
                    }
                    else c.Send(bytes);
                    sent++;
                }
            }
            catch (ErrnoException e) when (e.Errno is Errno.EPIPE or Errno.ECONNRESET)
            {
                // The server closed this connection (e.g. a size below the header): start another.
            }
            counted += Math.Min(sent, countable);
            // The stream was in sync up to the probe: its reply comes (before the server may give up on the
            // stream). Only then is the connection shut, which would also cut replies still to come.
            if (negotiated) probe.Task.Wait(TimeSpan.FromSeconds(60));
            c.Socket.Shutdown();
            Assert.True(drain.Wait(TimeSpan.FromSeconds(60)), "the replies did not end after shutdown");
            f.WaitNoClient();
            if (negotiated)
            {
                Assert.True(probe.Task.IsCompleted, $"connection {connections}: no correct reply to the probe");
                probed++;
            }
        }
        output.WriteLine($"seed {Seed}: {counted} messages parsed on {connections} connections, {probed} probes answered");
        Assert.True(connections > 1);

        // Still correct: a fresh client gets exact answers, and the other device never noticed.
        using (var fresh = VfioUserClient.Connect(f.SocketPath()))
        {
            Assert.Equal(9u, fresh.GetInfo().NumRegions);
            fresh.WriteRegion(0, 0, new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 });
            var back = new byte[8];
            Assert.Equal(8, fresh.ReadRegion(0, 0, back));
            Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, back);
            Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => fresh.GetRegionInfo(9)).Errno);
        }
        var w = new byte[4];
        witness.ReadRegion(0, 0, w);
        Assert.Equal(new byte[] { 9, 8, 7, 6 }, w);
        f.WaitNoClient();
        FdCount.SettlesAt(baseline);
    }

    /// <summary>
    /// Reads everything the server sends until the connection ends, framing its messages; completes
    /// <paramref name="probe"/> on a correct reply to <see cref="Probe"/>: its id, no error, and the echoed
    /// offset, region and count with one byte of data (the byte itself is whatever the fuzz wrote to BAR0).
    /// </summary>
    private static Task StartDrain(UnixSocket socket, TaskCompletionSource probe) => Task.Factory.StartNew(() =>
    {
        var buffer = new byte[1 << 20];
        int start = 0, end = 0;
        try
        {
            while (true)
            {
                if (end == buffer.Length)
                {
                    if (start == 0) Array.Resize(ref buffer, buffer.Length * 2);
                    Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                    end -= start;
                    start = 0;
                }
                int n = socket.Receive(buffer.AsSpan(end), null, out _);
                if (n == 0) return;
                end += n;
                while (end - start >= 16)
                {
                    var head = VfioUserHeader.Read(buffer.AsSpan(start));
                    if (end - start < head.Size) break;
                    if (head.Id == ProbeId && head.IsReply && !head.IsError && head.Size == 16 + 16 + 1
                        && buffer.AsSpan(start + 16, 16).SequenceEqual(Probe.AsSpan(16, 16)))
                        probe.TrySetResult();
                    start += (int)head.Size;
                }
            }
        }
        catch (ErrnoException) { }
        catch (ObjectDisposedException) { }
    }, TaskCreationOptions.LongRunning);

    /// <summary>Valid messages of every command (ids are rewritten per use).</summary>
    private static List<byte[]> Corpus()
    {
        var map = new byte[32];
        new DmaMapRequest { Flags = VfioDmaProtection.Read | VfioDmaProtection.Write, Address = 0x100000, Size = 0x10000 }.Write(map);
        var unmap = new byte[24];
        new DmaUnmapRequest { Address = 0x100000, Size = 0x10000 }.Write(unmap);
        var multi = new byte[8 + 24];
        BinaryPrimitives.WriteUInt64LittleEndian(multi, 1);
        BinaryPrimitives.WriteUInt32LittleEndian(multi.AsSpan(8 + 12), 1);
        return
        [
            RawClient.Message(0, (ushort)VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 0, 1)),
            RawClient.Message(0, (ushort)VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 7, 255)),
            RawClient.Message(0, (ushort)VfioUserCommand.RegionRead, RawClient.RegionAccess(16, 3, 64)),
            RawClient.Message(0, (ushort)VfioUserCommand.RegionWrite, RawClient.RegionAccess(3, 0, 2, [0x55, 0xAA])),
            RawClient.Message(0, (ushort)VfioUserCommand.RegionWrite, RawClient.RegionAccess(4, 7, 4, [1, 2, 3, 4])),
            RawClient.Message(0, (ushort)VfioUserCommand.RegionWrite, RawClient.RegionAccess(0, 3, 8, [1, 2, 3, 4, 5, 6, 7, 8])),
            RawClient.Message(0, (ushort)VfioUserCommand.DeviceGetInfo, RawClient.U32s(16, 0, 0, 0)),
            RawClient.Message(0, (ushort)VfioUserCommand.DeviceGetRegionInfo, RawClient.U32s(32, 0, 4, 0, 0, 0, 0, 0)),
            RawClient.Message(0, (ushort)VfioUserCommand.DeviceGetRegionInfo, RawClient.U32s(64, 0, 4, 0, 0, 0, 0, 0)),
            RawClient.Message(0, (ushort)VfioUserCommand.DeviceGetRegionIoFds, RawClient.U32s(16, 0, 0, 0)),
            RawClient.Message(0, (ushort)VfioUserCommand.DeviceGetIrqInfo, RawClient.U32s(16, 0, 0, 0)),
            RawClient.Message(0, (ushort)VfioUserCommand.DeviceSetIrqs, RawClient.U32s(20, 0x24, 0, 0, 1)),
            RawClient.Message(0, (ushort)VfioUserCommand.DeviceSetIrqs, RawClient.U32s(20, 0x21, 0, 0, 0)),
            RawClient.Message(0, (ushort)VfioUserCommand.DeviceSetIrqs, [.. RawClient.U32s(21, 0x22, 0, 0, 1), 1]),
            RawClient.Message(0, (ushort)VfioUserCommand.DmaMap, map),
            RawClient.Message(0, (ushort)VfioUserCommand.DmaUnmap, unmap),
            RawClient.Message(0, (ushort)VfioUserCommand.RegionWriteMulti, multi),
            RawClient.Message(0, (ushort)VfioUserCommand.DeviceReset, []),
            RawClient.Message(0, (ushort)VfioUserCommand.DeviceFeature, RawClient.U32s(16, 0x10001, 0, 0)),
            RawClient.Message(0, (ushort)VfioUserCommand.MigDataRead, RawClient.U32s(8, 64)),
            RawClient.Message(0, 0x7777, [1, 2, 3]),
        ];
    }

    private static byte[] Mutate(byte[] m, Random rng)
    {
        // Mutations that break the framing (cases 1 and 8) are rare so that streams run long.
        int kind = rng.Next(200) == 0 ? (rng.Next(2) == 0 ? 1 : 8) : rng.Next(7) switch { 1 => 7, int k => k };
        switch (kind)
        {
            case 0: // flip bytes anywhere but the size field
                for (int k = rng.Next(1, 4); k > 0; k--)
                {
                    int at = rng.Next(m.Length - 4);
                    m[at >= 4 ? at + 4 : at] ^= (byte)rng.Next(1, 256);
                }
                return m;
            case 1: // a size that disagrees with the bytes: shorter, longer, huge or below the header
                BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(4), rng.Next(6) switch
                {
                    0 => (uint)rng.Next(0, 16),
                    1 => uint.MaxValue,
                    2 => (uint)(16 + 16 + (1 << 20) + rng.Next(1, 100)),
                    _ => (uint)Math.Max(16, m.Length + rng.Next(-8, 9)),
                });
                return m;
            case 2: // truncated payload with a consistent size
            {
                int len = rng.Next(16, m.Length + 1);
                var t = m[..len];
                BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(4), (uint)len);
                return t;
            }
            case 3: // extra bytes with a consistent size
            {
                var t = new byte[m.Length + rng.Next(1, 64)];
                m.CopyTo(t, 0);
                rng.NextBytes(t.AsSpan(m.Length));
                BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(4), (uint)t.Length);
                return t;
            }
            case 4: // another command
                BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(2), (ushort)rng.Next(0, 24));
                return m;
            case 5: // other flag bits (no-reply, reply, error, reserved)
                BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(8), (uint)rng.Next(0, 64));
                return m;
            case 6: // extreme numbers in the payload
                if (m.Length >= 20)
                {
                    int at = 16 + 4 * rng.Next((m.Length - 16) / 4);
                    BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(at), rng.Next(3) switch { 0 => uint.MaxValue, 1 => 0x80000000, _ => (uint)rng.Next() });
                }
                return m;
            case 7: // pure garbage of a plausible length
            {
                var g = new byte[rng.Next(16, 128)];
                rng.NextBytes(g);
                BinaryPrimitives.WriteUInt32LittleEndian(g.AsSpan(4), (uint)g.Length);
                return g;
            }
            default: // a second VERSION
                return RawClient.Message(1, 1, RawClient.VersionPayload());
        }
    }
}
