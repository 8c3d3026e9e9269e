using System.Buffers.Binary;
using System.Text;

namespace Umdev.Guest;

/// <summary>
/// Renders PCI configuration space the way <c>lspci -vv -xx</c> does (without the PCI ID database: names
/// print as "Device vvvv:dddd"). Input: the config bytes (at least 64), optionally the BAR sizes (from
/// region info) since config space alone cannot tell them without sizing writes.
/// </summary>
public static class PciConfigFormatter
{
    public static string Format(ReadOnlySpan<byte> config, string address = "00:00.0", IReadOnlyList<ulong>? barSizes = null, int hexBytes = 64)
    {
        if (config.Length < 64) throw new ArgumentException("need at least the 64-byte header", nameof(config));
        var sb = new StringBuilder();
        ushort vendor = U16(config, 0x00), device = U16(config, 0x02), command = U16(config, 0x04), status = U16(config, 0x06);
        byte rev = config[0x08], progIf = config[0x09], subclass = config[0x0a], baseClass = config[0x0b];
        sb.Append(address).Append(' ').Append(ClassName(baseClass, subclass)).Append(": ");
        sb.Append($"Device {vendor:x4}:{device:x4}");
        if (rev != 0) sb.Append($" (rev {rev:x2})");
        if (progIf != 0) sb.Append($" (prog-if {progIf:x2}{ProgIfName(baseClass, subclass, progIf)})");
        sb.Append('\n');
        ushort subVendor = U16(config, 0x2c), subDevice = U16(config, 0x2e);
        if (subVendor != 0 || subDevice != 0) sb.Append($"\tSubsystem: Device {subVendor:x4}:{subDevice:x4}\n");
        sb.Append("\tControl:");
        string[] cmdNames = ["I/O", "Mem", "BusMaster", "SpecCycle", "MemWINV", "VGASnoop", "ParErr", "Stepping", "SERR", "FastB2B", "DisINTx"];
        for (int i = 0; i < cmdNames.Length; i++) sb.Append(' ').Append(cmdNames[i]).Append(Flag(command, i));
        sb.Append('\n');
        sb.Append($"\tStatus: Cap{Flag(status, 4)} 66MHz{Flag(status, 5)} UDF{Flag(status, 6)} FastB2B{Flag(status, 7)} ParErr{Flag(status, 8)} ");
        sb.Append($"DEVSEL={((status >> 9) & 3) switch { 0 => "fast", 1 => "medium", 2 => "slow", _ => "??" }} ");
        sb.Append($">TAbort{Flag(status, 11)} <TAbort{Flag(status, 12)} <MAbort{Flag(status, 13)} >SERR{Flag(status, 14)} <PERR{Flag(status, 15)} INTx{Flag(status, 3)}\n");
        if ((command & 0x4) != 0) sb.Append($"\tLatency: {config[0x0d]}\n");
        byte pin = config[0x3d];
        if (pin is >= 1 and <= 4) sb.Append($"\tInterrupt: pin {(char)('A' + pin - 1)} routed to IRQ {config[0x3c]}\n");
        if ((config[0x0e] & 0x7f) == 0) AppendBars(sb, config, command, barSizes);
        if ((status & 0x10) != 0) AppendCapabilities(sb, config);
        int dump = Math.Min(hexBytes, config.Length) & ~15;
        for (int row = 0; row < dump; row += 16)
        {
            sb.Append($"{row:x2}:");
            for (int i = 0; i < 16; i++) sb.Append($" {config[row + i]:x2}");
            sb.Append('\n');
        }
        return sb.ToString();
    }

    private static void AppendBars(StringBuilder sb, ReadOnlySpan<byte> config, ushort command, IReadOnlyList<ulong>? sizes)
    {
        for (int i = 0; i < 6; i++)
        {
            uint bar = U32(config, 0x10 + 4 * i);
            ulong size = sizes is not null && i < sizes.Count ? sizes[i] : 0;
            if (bar == 0 && size == 0) continue;
            bool io = (bar & 1) != 0;
            string sizeText = size != 0 ? $" [size={SizeText(size)}]" : "";
            if (io)
            {
                uint port = bar & ~3u;
                string where = port == 0 ? "<unassigned>" : $"{port:x4}";
                string off = (command & 1) == 0 ? " [disabled]" : "";
                sb.Append($"\tRegion {i}: I/O ports at {where}{off}{sizeText}\n");
            }
            else
            {
                bool is64 = ((bar >> 1) & 3) == 2;
                ulong addr = bar & ~0xFu;
                if (is64 && i < 5) addr |= (ulong)U32(config, 0x14 + 4 * i) << 32;
                string where = addr == 0 ? "<unassigned>" : $"{addr:x8}";
                string off = (command & 2) == 0 ? " [disabled]" : "";
                sb.Append($"\tRegion {i}: Memory at {where} ({(is64 ? "64-bit" : "32-bit")}, {((bar & 8) != 0 ? "prefetchable" : "non-prefetchable")}){off}{sizeText}\n");
                if (is64) i++;
            }
        }
    }

    private static void AppendCapabilities(StringBuilder sb, ReadOnlySpan<byte> config)
    {
        int at = config[0x34] & ~3;
        for (int guard = 0; at >= 0x40 && at + 2 <= config.Length && guard < 48; guard++)
        {
            byte id = config[at];
            string name = id switch
            {
                0x01 => "Power Management",
                0x05 => "MSI",
                0x09 => "Vendor Specific Information",
                0x10 => "Express",
                0x11 => "MSI-X",
                _ => $"Capability ID {id:x2}",
            };
            sb.Append($"\tCapabilities: [{at:x2}] {name}\n");
            at = config[at + 1] & ~3;
        }
    }

    private static string ClassName(byte baseClass, byte subclass) => (baseClass, subclass) switch
    {
        (0x07, 0x00) => "Serial controller",
        (0x07, 0x01) => "Parallel controller",
        (0x07, 0x80) => "Communication controller",
        (0x01, _) => "Mass storage controller",
        (0x02, 0x00) => "Ethernet controller",
        (0x02, _) => "Network controller",
        (0x03, _) => "VGA compatible controller",
        (0x06, 0x00) => "Host bridge",
        (0x06, _) => "Bridge",
        (0x0c, 0x05) => "SMBus",
        (0xff, _) => "Unassigned class",
        _ => $"Class {baseClass:x2}{subclass:x2}",
    };

    private static string ProgIfName(byte baseClass, byte subclass, byte progIf) => (baseClass, subclass, progIf) switch
    {
        (0x07, 0x00, 0x00) => " [8250]",
        (0x07, 0x00, 0x01) => " [16450]",
        (0x07, 0x00, 0x02) => " [16550]",
        (0x07, 0x00, 0x03) => " [16650]",
        (0x07, 0x00, 0x04) => " [16750]",
        (0x07, 0x00, 0x05) => " [16850]",
        (0x07, 0x00, 0x06) => " [16950]",
        _ => "",
    };

    private static string SizeText(ulong size) => size switch
    {
        _ when size >= 1UL << 30 && size % (1UL << 30) == 0 => $"{size >> 30}G",
        _ when size >= 1UL << 20 && size % (1UL << 20) == 0 => $"{size >> 20}M",
        _ when size >= 1UL << 10 && size % (1UL << 10) == 0 => $"{size >> 10}K",
        _ => size.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private static char Flag(ushort value, int bit) => ((value >> bit) & 1) != 0 ? '+' : '-';
    private static ushort U16(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b[at..]);
    private static uint U32(ReadOnlySpan<byte> b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b[at..]);
}
