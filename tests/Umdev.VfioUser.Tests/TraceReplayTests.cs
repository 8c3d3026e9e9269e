using System.Buffers.Binary;
using System.Text;
using Umdev.Interop;
using Umdev.Vfio;
using Xunit.Abstractions;

namespace Umdev.VfioUser.Tests;

/// <summary>
/// Replays QEMU 10.2's recorded message sequence (a Linux guest booting and looping data through a
/// 16550A, recorded against QEMU's own pci-serial server) against mtty: same commands, same order, same
/// message sizes, same arguments and written values. The answers are mtty's, not pci-serial's: see
/// docs/vfio-user.md for how each difference is interpreted.
/// </summary>
public class TraceReplayTests(ITestOutputHelper output)
{
    private static string TracePath => Path.Combine(AppContext.BaseDirectory, "Data", "qemu-10.2-guest-boot-pci-serial.trace");

    [Fact]
    public void TraceParsesIntoQemusMessageSequence()
    {
        var requests = QemuTrace.Load(TracePath);
        Assert.Equal(433, requests.Count);
        Assert.Equal(1, requests[0].Command);
        Assert.Equal(0xd6, requests[0].Size);
        Assert.Contains(requests, r => r.Command == 13);
    }

    [Fact]
    public void MttyAnswersEveryMessageQemuSentDuringAGuestBoot()
    {
        var requests = QemuTrace.Load(TracePath);
        string versionJson = File.ReadLines(TracePath).First().Split("caps: ", 2)[1];
        using var f = new MttyServerFixture();
        using var c = new RawClient(UnixSocket.Connect(f.SocketPath));
        using var intx = EventFd.Create(nonBlocking: true);
        var summary = new Dictionary<string, int>();
        var rbr = new StringBuilder();
        var traceRbr = new StringBuilder();
        // The kernel sample reports 0xFF (mtty.md §5.2); whatever the driver reports in process must come through.
        ulong configSize = f.Device.Vfio().GetRegionInfo(7, 32).Size;
        bool romSizing = false;
        foreach (var q in requests)
        {
            if (q.Command == 10 && q.Value is null)
            {
                // Writes QEMU makes on its own do not appear as config-write events: ROM sizing writes
                // 0xFFFFF800 to 0x30 and then the original value (0); reset clears the BARs (0).
                romSizing = q.A == 7 && q.B == 0x30 && !romSizing;
                q.Value = romSizing ? 0xFFFFF800 : 0;
            }
            byte[] payload = Payload(q, versionJson);
            var message = RawClient.Message(q.Id, q.Command, payload);
            Assert.True(message.Length == q.Size, $"line {q.Line}: rebuilt {message.Length} bytes, QEMU sent {q.Size}");
            bool withFd = q.Command == 8 && (q.Flags & 0x4) != 0 && q.C > 0;
            c.Send(message, withFd ? [intx] : []);
            using var r = c.Receive() ?? throw new InvalidOperationException($"line {q.Line}: connection closed");
            Assert.Equal(q.Id, r.Header.Id);
            Assert.Equal(q.Command, r.Header.Command);
            string key = $"cmd {q.Command}" + (r.Header.IsError ? $" {r.Error}" : "");
            summary[key] = summary.GetValueOrDefault(key) + 1;
            Check(q, r, configSize);
            if (q.Command == 9 && q.A == 0 && q.B == 0 && q.Value is >= 0x20 and < 0x7f)
            {
                traceRbr.Append((char)q.Value.Value);
                rbr.Append((char)r.Payload[16]);
            }
        }
        foreach (var kv in summary.OrderBy(k => k.Key)) output.WriteLine($"{kv.Key}: {kv.Value}");
        output.WriteLine($"RBR (pci-serial): {traceRbr}");
        output.WriteLine($"RBR (mtty):       {rbr}");
        Assert.Contains("loopback-ttyS1-123", traceRbr.ToString());
        Assert.Contains("loopback-ttyS1-123", rbr.ToString());
    }

    private static byte[] Payload(TraceRequest q, string versionJson) => q.Command switch
    {
        1 => RawClient.VersionPayload(json: versionJson),
        2 => DmaMap(q),
        3 => DmaUnmap(q),
        4 => RawClient.U32s(16, 0, 0, 0),
        5 => RawClient.U32s(32, 0, (uint)q.A, 0, 0, 0, 0, 0),
        7 => RawClient.U32s(16, 0, (uint)q.A, 0),
        8 => RawClient.U32s(20, q.Flags, (uint)q.A, (uint)q.B, (uint)q.C),
        9 => RawClient.RegionAccess(q.B, (uint)q.A, (uint)q.C),
        10 => RawClient.RegionAccess(q.B, (uint)q.A, (uint)q.C, LittleEndian(q.Value ?? throw new InvalidDataException($"line {q.Line}: write without value"), (int)q.C)),
        13 => [],
        _ => throw new InvalidDataException($"line {q.Line}: command {q.Command}"),
    };

    private static byte[] LittleEndian(ulong value, int count)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        return b[..count];
    }

    private static byte[] DmaMap(TraceRequest q)
    {
        var p = new byte[32];
        new Protocol.DmaMapRequest { Flags = (VfioDmaProtection)q.Flags, Offset = q.C, Address = q.A, Size = q.B }.Write(p);
        return p;
    }

    private static byte[] DmaUnmap(TraceRequest q)
    {
        var p = new byte[24];
        new Protocol.DmaUnmapRequest { Flags = q.Flags, Address = q.A, Size = q.B }.Write(p);
        return p;
    }

    /// <summary>What mtty must answer to each message.</summary>
    private static void Check(TraceRequest q, Reply r, ulong configSize)
    {
        string at = $"line {q.Line} (cmd {q.Command})";
        switch (q.Command)
        {
            case 1:
                Assert.False(r.Header.IsError, at);
                Assert.True(r.Header.Size <= (uint)q.Size, $"{at}: VERSION reply longer than the request");
                break;
            case 4:
                Assert.Equal(RawClient.U32s(16, 0x2, 9, 5), r.Payload);
                break;
            case 5:
                Assert.False(r.Header.IsError, at);
                ulong size = q.A switch { 0 or 1 => 8, 7 => configSize, _ => 0 };
                Assert.Equal(0x3u, BinaryPrimitives.ReadUInt32LittleEndian(r.Payload.AsSpan(4)));
                Assert.Equal(size, BinaryPrimitives.ReadUInt64LittleEndian(r.Payload.AsSpan(16)));
                Assert.Equal(q.A << 40, BinaryPrimitives.ReadUInt64LittleEndian(r.Payload.AsSpan(24)));
                break;
            case 7:
                // pci-serial offered an ERR IRQ; mtty has none (mtty.md §5.3).
                Assert.Equal(q.A == 3 ? Errno.EINVAL : Errno.None, r.Error);
                break;
            case 8:
                // SET_IRQS on ERR (index 3) follows pci-serial's IRQ info; mtty refuses it (ENOTTY).
                Assert.Equal(q.A == 3 ? Errno.ENOTTY : Errno.None, r.Error);
                break;
            case 9:
                Assert.False(r.Header.IsError, at);
                Assert.Equal(16 + (int)q.C, r.Payload.Length);
                if (q.A == 7 && q.B == 0 && q.C >= 2) Assert.Equal(0x4348, BinaryPrimitives.ReadUInt16LittleEndian(r.Payload.AsSpan(16)));
                if (q.A == 7 && q.B == 0xa && q.C == 2) Assert.Equal(0x0700, BinaryPrimitives.ReadUInt16LittleEndian(r.Payload.AsSpan(16)));
                if (q.A == 7 && q.B == 0x3d && q.C == 1) Assert.Equal(1, r.Payload[16]);
                break;
            default:
                Assert.False(r.Header.IsError, $"{at}: {r.Error}");
                break;
        }
    }
}
