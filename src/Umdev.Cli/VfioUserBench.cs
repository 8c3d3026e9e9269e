using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Umdev.Core;
using Umdev.Interop;
using Umdev.VfioUser;

namespace Umdev.Cli;

/// <summary>One measured path: per-op figures and allocation.</summary>
public sealed record BenchFigures(string Mode, string Path, double MedianNs, double P99Ns, double AllocatedBytesPerOp);

/// <summary>
/// Round trip of a 1-byte REGION_READ of mtty's LSR (region 0, offset 5) through a vfio-user socket,
/// against the physical floor: a bare socketpair peer echoing messages of the same sizes (32 bytes out,
/// 33 back). Both loops are the same raw client; every op is timestamped.
/// </summary>
public static class VfioUserBench
{
    private const int RequestSize = 32, ReplySize = 33, Batches = 100;

    /// <summary>A served mtty-2 device in a private socket directory.</summary>
    public sealed class ServedMtty : IDisposable
    {
        private readonly IMdevParentPlugin _mtty = ParentPlugins.Get("mtty");

        public ServedMtty()
        {
            Directory = Path.Combine(Path.GetTempPath(), "umdev-bench-" + Environment.ProcessId);
            Core = new MdevCore();
            Parent = _mtty.Register(Core, MdevParentOptions.Defaults(_mtty));
            Service = new VfioUserService(Core, Directory, NullLoggerFactory.Instance);
            Device = Core.Create(Parent.FindType("mtty-2")!, Guid.NewGuid());
        }

        public string Directory { get; }
        public MdevCore Core { get; }
        public MdevParent Parent { get; }
        public VfioUserService Service { get; }
        public MdevDevice Device { get; }
        public string SocketPath => VfioUserService.SocketPathFor(Directory, Device.Uuid);

        public void Dispose()
        {
            Service.Dispose();
            _mtty.Unregister(Core, Parent);
            try { System.IO.Directory.Delete(Directory, true); } catch (IOException) { }
        }
    }

    /// <summary>
    /// Per mode, the floor and the server are measured alternately in <paramref name="rounds"/> rounds (the
    /// machine's load drifts; alternating exposes both paths to the same drift): median = median of the
    /// rounds' batch-mean medians, p99 over every single op of all rounds.
    /// </summary>
    public static IReadOnlyList<BenchFigures> Run(int iterations, int cpu, TextWriter log, int rounds = 5)
    {
        var results = new List<BenchFigures>();
        int all = Environment.ProcessorCount;
        int perRound = Math.Max(iterations / rounds, Batches * 10);
        foreach (bool pinned in new[] { true, false })
        {
            // Threads inherit the creator's affinity: set it before the server's and the peer's threads exist.
            CpuAffinity.SetCurrentThread(pinned ? [cpu] : Enumerable.Range(0, all).ToArray());
            string mode = pinned ? $"pinned(cpu{cpu})" : $"unpinned({all} cpus)";
            log.WriteLine($"{mode}: {rounds} rounds of {perRound} ops, floor and server alternately...");
            using var floor = new EchoPeer();
            using var served = new ServedMtty();
            using var socket = UnixSocket.Connect(served.SocketPath);
            Negotiate(socket);
            var floorRounds = new List<Sample>();
            var serverRounds = new List<Sample>();
            for (int r = 0; r < rounds; r++)
            {
                floorRounds.Add(Measure(floor.Client, perRound));
                serverRounds.Add(Measure(socket, perRound));
            }
            results.Add(Combine(mode, "floor (socketpair echo)", floorRounds));
            results.Add(Combine(mode, "vfio-user REGION_READ", serverRounds));
        }
        CpuAffinity.SetCurrentThread(Enumerable.Range(0, all).ToArray());
        return results;
    }

    internal sealed record Sample(double MedianNs, double[] SingleNs, long Allocated, int Ops);

    internal static BenchFigures Combine(string mode, string path, List<Sample> rounds)
    {
        var medians = rounds.Select(r => r.MedianNs).Order().ToArray();
        var single = rounds.SelectMany(r => r.SingleNs).Order().ToArray();
        return new BenchFigures(mode, path, medians[medians.Length / 2], single[(int)Math.Ceiling(single.Length * 0.99) - 1],
            (double)rounds.Sum(r => r.Allocated) / rounds.Sum(r => r.Ops));
    }

    /// <summary>The floor's peer: a thread answering every 32-byte message with 33 bytes, no protocol logic.</summary>
    internal sealed class EchoPeer : IDisposable
    {
        private readonly UnixSocket _peer;
        private readonly Thread _thread;

        public EchoPeer()
        {
            (Client, _peer) = UnixSocket.CreatePair();
            _thread = new Thread(Echo) { IsBackground = true };
            _thread.Start();
        }

        public UnixSocket Client { get; }

        private void Echo()
        {
            var buffer = new byte[64 * 1024];
            var reply = new byte[ReplySize];
            try
            {
                while (true)
                {
                    int got = 0;
                    while (got < RequestSize)
                    {
                        int n = _peer.Receive(buffer.AsSpan(got), null, out _);
                        if (n == 0) return;
                        got += n;
                    }
                    buffer.AsSpan(0, 16).CopyTo(reply);
                    _peer.Send(reply);
                }
            }
            catch (ErrnoException) { }
        }

        public void Dispose()
        {
            Client.Shutdown();
            _thread.Join();
            Client.Dispose();
            _peer.Dispose();
        }
    }

    internal static void Negotiate(UnixSocket socket)
    {
        var json = Encoding.UTF8.GetBytes("{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576}}\0");
        var m = new byte[20 + json.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(m.AsSpan(2), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(4), (uint)m.Length);
        json.CopyTo(m, 20);
        socket.Send(m);
        var head = new byte[16];
        ReadExactly(socket, head);
        var rest = new byte[BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(4)) - 16];
        ReadExactly(socket, rest);
        if ((BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(8)) & 0x20) != 0) throw new ErrnoException(Errno.EPROTO, "VERSION refused");
    }

    private static void ReadExactly(UnixSocket socket, Span<byte> into)
    {
        for (int got = 0; got < into.Length;)
        {
            int n = socket.Receive(into[got..], null, out _);
            if (n == 0) throw new ErrnoException(Errno.ECONNRESET, "peer closed");
            got += n;
        }
    }

    internal static Sample Measure(UnixSocket socket, int iterations)
    {
        var request = new byte[RequestSize];
        BinaryPrimitives.WriteUInt16LittleEndian(request.AsSpan(2), 9);                 // REGION_READ
        BinaryPrimitives.WriteUInt32LittleEndian(request.AsSpan(4), RequestSize);
        BinaryPrimitives.WriteUInt64LittleEndian(request.AsSpan(16), 5);                // LSR
        BinaryPrimitives.WriteUInt32LittleEndian(request.AsSpan(24), 0);                // region 0
        BinaryPrimitives.WriteUInt32LittleEndian(request.AsSpan(28), 1);                // count 1
        var reply = new byte[64];
        var t = new long[iterations + 1];
        void Op(ushort id)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(request, id);
            socket.Send(request);
            ReadExactly(socket, reply.AsSpan(0, ReplySize));
        }
        int warm = Math.Min(iterations / 10, 20_000);
        for (int i = 0; i < warm; i++) Op((ushort)i);
        if ((BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(8)) & 0x20) != 0)
            throw new ErrnoException((Errno)BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(12)), "REGION_READ failed");
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < iterations; i++)
        {
            t[i] = Stopwatch.GetTimestamp();
            Op((ushort)i);
        }
        t[iterations] = Stopwatch.GetTimestamp();
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        double nsPerTick = 1e9 / Stopwatch.Frequency;
        int batch = iterations / Batches;
        var means = new double[Batches];
        for (int b = 0; b < Batches; b++) means[b] = (t[(b + 1) * batch] - t[b * batch]) * nsPerTick / batch;
        var single = new double[iterations];
        for (int i = 0; i < iterations; i++) single[i] = (t[i + 1] - t[i]) * nsPerTick;
        Array.Sort(means);
        return new Sample(means[Batches / 2], single, allocated, iterations);
    }
}
