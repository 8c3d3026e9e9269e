using System.Globalization;
using System.Text.RegularExpressions;

namespace Umdev.VfioUser.Tests;

/// <summary>One request QEMU sent, as its trace records it.</summary>
public sealed record TraceRequest(ushort Id, ushort Command, int Size, uint ReplySize, uint ReplyFlags)
{
    public ulong A, B, C;          // region/offset/count, iova/size/offset, index/start/count …
    public uint Flags;
    public ulong? Value;           // the value of a write, or what QEMU's server returned for a read
    public int Line;
}

/// <summary>
/// Parses QEMU's vfio-user trace (events vfio_user_*, vfio_region_*, vfio_pci_*_config) into the
/// request sequence: each <c>vfio_user_send_write</c> is one message of the recorded size, its command
/// comes from the matching <c>vfio_user_recv_hdr</c>, and its arguments from the detail event QEMU
/// logged just before sending (or, for region/IRQ info and BAR data, just after the reply).
/// </summary>
public static partial class QemuTrace
{
    [GeneratedRegex(@"vfio_user_send_write  id 0x([0-9a-f]+) wrote 0x([0-9a-f]+)")] private static partial Regex Send();
    [GeneratedRegex(@"vfio_user_recv_hdr  \(unix:SOCKET\) id 0x([0-9a-f]+) cmd 0x([0-9a-f]+) size 0x([0-9a-f]+) flags 0x([0-9a-f]+)")] private static partial Regex Recv();
    [GeneratedRegex(@"vfio_user_region_rw  region (\d+) offset 0x([0-9a-f]+) count (\d+)")] private static partial Regex RegionRw();
    [GeneratedRegex(@"vfio_user_dma_map  iova 0x([0-9a-f]+) size 0x([0-9a-f]+) off 0x([0-9a-f]+) flags 0x([0-9a-f]+)")] private static partial Regex DmaMap();
    [GeneratedRegex(@"vfio_user_dma_unmap  iova 0x([0-9a-f]+) size 0x([0-9a-f]+) flags 0x([0-9a-f]+)")] private static partial Regex DmaUnmap();
    [GeneratedRegex(@"vfio_user_set_irqs  index (\d+) start (\d+) count (\d+) flags 0x([0-9a-f]+)")] private static partial Regex SetIrqs();
    [GeneratedRegex(@"vfio_user_get_region_info  index (\d+)")] private static partial Regex RegionInfo();
    [GeneratedRegex(@"vfio_user_get_irq_info  index (\d+)")] private static partial Regex IrqInfo();
    [GeneratedRegex(@"vfio_pci_write_config  \(vfio-user:SOCKET, @0x([0-9a-f]+), 0x([0-9a-f]+), len=0x([0-9a-f]+)\)")] private static partial Regex ConfigWrite();
    [GeneratedRegex(@"vfio_region_write  \(vfio-user:SOCKET:region(\d+)\+0x([0-9a-f]+), 0x([0-9a-f]+), (\d+)\)")] private static partial Regex BarWrite();
    [GeneratedRegex(@"vfio_region_read  \(vfio-user:SOCKET:region(\d+)\+0x([0-9a-f]+), (\d+)\) = 0x([0-9a-f]+)")] private static partial Regex BarRead();
    [GeneratedRegex(@"vfio_pci_read_config  \(vfio-user:SOCKET, @0x([0-9a-f]+), len=0x([0-9a-f]+)\) 0x([0-9a-f]+)")] private static partial Regex ConfigRead();

    private static ulong Hex(Group g) => ulong.Parse(g.Value, NumberStyles.HexNumber);
    private static ulong Dec(Group g) => ulong.Parse(g.Value, CultureInfo.InvariantCulture);

    public static List<TraceRequest> Load(string path)
    {
        var lines = File.ReadAllLines(path);
        var requests = new List<TraceRequest>();
        for (int i = 0; i < lines.Length; i++)
        {
            var s = Send().Match(lines[i]);
            if (!s.Success) continue;
            ushort id = (ushort)Hex(s.Groups[1]);
            int size = (int)Hex(s.Groups[2]);
            int r = i + 1;
            Match recv = Match.Empty;
            for (; r < lines.Length; r++)
                if ((recv = Recv().Match(lines[r])).Success && (ushort)Hex(recv.Groups[1]) == id) break;
            if (!recv.Success) throw new InvalidDataException($"no reply for id {id} (line {i + 1})");
            var req = new TraceRequest(id, (ushort)Hex(recv.Groups[2]), size, (uint)Hex(recv.Groups[3]), (uint)Hex(recv.Groups[4])) { Line = i + 1 };
            // Arguments logged before the send (scan back to the previous send).
            for (int k = i - 1; k >= 0 && !Send().IsMatch(lines[k]); k--)
            {
                Match m;
                if (req.Command is 9 or 10 && (m = RegionRw().Match(lines[k])).Success)
                {
                    (req.A, req.B, req.C) = (Dec(m.Groups[1]), Hex(m.Groups[2]), Dec(m.Groups[3]));
                    for (int w = k - 1; req.Command == 10 && w >= 0 && !Send().IsMatch(lines[w]); w--)
                        if ((m = ConfigWrite().Match(lines[w])).Success && Hex(m.Groups[1]) == req.B) { req.Value = Hex(m.Groups[2]); break; }
                    break;
                }
                if (req.Command == 2 && (m = DmaMap().Match(lines[k])).Success)
                {
                    (req.A, req.B, req.C, req.Flags) = (Hex(m.Groups[1]), Hex(m.Groups[2]), Hex(m.Groups[3]), (uint)Hex(m.Groups[4]));
                    break;
                }
                if (req.Command == 3 && (m = DmaUnmap().Match(lines[k])).Success)
                {
                    (req.A, req.B, req.Flags) = (Hex(m.Groups[1]), Hex(m.Groups[2]), (uint)Hex(m.Groups[3]));
                    break;
                }
                if (req.Command == 8 && (m = SetIrqs().Match(lines[k])).Success)
                {
                    (req.A, req.B, req.C, req.Flags) = (Dec(m.Groups[1]), Dec(m.Groups[2]), Dec(m.Groups[3]), (uint)Hex(m.Groups[4]));
                    break;
                }
            }
            // Arguments logged after the reply (scan forward to the next send).
            for (int k = r + 1; k < lines.Length && !Send().IsMatch(lines[k]); k++)
            {
                Match m;
                if (req.Command == 5 && (m = RegionInfo().Match(lines[k])).Success) { req.A = Dec(m.Groups[1]); break; }
                if (req.Command == 7 && (m = IrqInfo().Match(lines[k])).Success) { req.A = Dec(m.Groups[1]); break; }
                if (req.Command == 10 && req.A != 7 && (m = BarWrite().Match(lines[k])).Success) { req.Value = Hex(m.Groups[3]); break; }
                if (req.Command == 9 && req.A != 7 && (m = BarRead().Match(lines[k])).Success) { req.Value = Hex(m.Groups[4]); break; }
                if (req.Command == 9 && req.A == 7 && (m = ConfigRead().Match(lines[k])).Success && Hex(m.Groups[1]) == req.B) { req.Value = Hex(m.Groups[3]); break; }
            }
            requests.Add(req);
        }
        return requests;
    }
}
