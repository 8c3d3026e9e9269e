using System.Buffers.Binary;
using System.Text;

namespace Umdev.Guest;

/// <summary>
/// Renders a function's config space the way <c>lspci -vv -xx</c> does in a guest without pci.ids
/// (names shown as "Device vvvv:dddd"). BAR sizes come from firmware's sizing, as lspci takes them
/// from sysfs.
/// </summary>
public static class LspciFormatter
{
    public static string Format(ReadOnlySpan<byte> config, IReadOnlyList<PciBar> bars, string slot = "00:05.0",
        string? kernelDriver = null, int hexBytes = 64)
    {
        var sb = new StringBuilder();
        ushort vendor = U16(config, PciRegisters.VendorId), device = U16(config, PciRegisters.DeviceId);
        byte rev = config[PciRegisters.Revision], progIf = config[PciRegisters.ProgIf];
        byte baseClass = config[PciRegisters.ClassCode], subclass = config[PciRegisters.Subclass];
        sb.Append($"{slot} {ClassName(baseClass, subclass)}: Device {vendor:x4}:{device:x4}");
        if (rev != 0) sb.Append($" (rev {rev:x2})");
        if (progIf != 0)
        {
            string? name = ProgIfName(baseClass, subclass, progIf);
            sb.Append(name is null ? $" (prog-if {progIf:x2})" : $" (prog-if {progIf:x2} [{name}])");
        }
        sb.Append('\n');
        ushort subVendor = U16(config, PciRegisters.SubsystemVendorId), subId = U16(config, PciRegisters.SubsystemId);
        if (subVendor != 0 || subId != 0) sb.Append($"\tSubsystem: Device {subVendor:x4}:{subId:x4}\n");

        ushort cmd = U16(config, PciRegisters.Command), status = U16(config, PciRegisters.Status);
        sb.Append("\tControl:");
        string[] cmdNames = ["I/O", "Mem", "BusMaster", "SpecCycle", "MemWINV", "VGASnoop", "ParErr", "Stepping", "SERR", "FastB2B", "DisINTx"];
        for (int i = 0; i < cmdNames.Length; i++) sb.Append($" {cmdNames[i]}{Flag(cmd, i)}");
        sb.Append('\n');
        string devsel = ((status >> 9) & 3) switch { 0 => "fast", 1 => "medium", 2 => "slow", _ => "??" };
        sb.Append($"\tStatus: Cap{Flag(status, 4)} 66MHz{Flag(status, 5)} UDF{Flag(status, 6)} FastB2B{Flag(status, 7)} ParErr{Flag(status, 8)} DEVSEL={devsel}");
        sb.Append($" >TAbort{Flag(status, 11)} <TAbort{Flag(status, 12)} <MAbort{Flag(status, 13)} >SERR{Flag(status, 14)} <PERR{Flag(status, 15)} INTx{Flag(status, 3)}\n");

        byte pin = config[PciRegisters.InterruptPin], line = config[PciRegisters.InterruptLine];
        if (pin != 0) sb.Append($"\tInterrupt: pin {(char)('A' + pin - 1)} routed to IRQ {line}\n");
        foreach (var bar in bars) AppendRegion(sb, config, bar, cmd);
        if ((status & PciRegisters.StatusCapabilityList) != 0) LspciCapabilities.Append(sb, config, vendor, device);
        if (kernelDriver is not null) sb.Append($"\tKernel driver in use: {kernelDriver}\n");
        AppendHex(sb, config, Math.Min(hexBytes, config.Length));
        return sb.ToString();
    }

    /// <summary>
    /// One <c>Region</c> line. Memory BARs are described by their type bits in config space, the
    /// upper half of a 64-bit address read from the next slot; I/O BARs print as they always have here.
    /// </summary>
    private static void AppendRegion(StringBuilder sb, ReadOnlySpan<byte> config, PciBar bar, ushort cmd)
    {
        uint raw = BinaryPrimitives.ReadUInt32LittleEndian(config[(PciRegisters.Bar0 + 4 * bar.Index)..]);
        if (bar.IsIo)
        {
            sb.Append($"\tRegion {bar.Index}: I/O ports at {raw & PciRegisters.BarIoAddressMask:x} [size={SizeText(bar.Size)}]\n");
            return;
        }
        uint type = raw & PciRegisters.BarMemTypeMask;
        ulong address = raw & PciRegisters.BarMemAddressMask;
        if (type == PciRegisters.BarMemType64 && bar.Index + 1 < PciRegisters.BarCount)
            address |= (ulong)BinaryPrimitives.ReadUInt32LittleEndian(config[(PciRegisters.Bar0 + 4 * bar.Index + 4)..]) << 32;
        string width = type switch
        {
            0 => "32-bit",
            PciRegisters.BarMemType64 => "64-bit",
            PciRegisters.BarMemType1M => "low-1M",
            _ => "type 3",
        };
        string at = address != 0 ? $"{address:x8}" : "<unassigned>";
        string prefetch = (raw & PciRegisters.BarPrefetchable) != 0 ? "prefetchable" : "non-prefetchable";
        string disabled = (cmd & PciRegisters.CommandMemory) == 0 ? " [disabled]" : "";
        sb.Append($"\tRegion {bar.Index}: Memory at {at} ({width}, {prefetch}){disabled} [size={SizeText(bar.Size)}]\n");
    }

    /// <summary>The hex dump lines (<c>00: 48 43 …</c>), 16 bytes each.</summary>
    private static void AppendHex(StringBuilder sb, ReadOnlySpan<byte> config, int length)
    {
        for (int row = 0; row < length; row += 16)
        {
            sb.Append($"{row:x2}:");
            for (int i = row; i < Math.Min(row + 16, length); i++) sb.Append($" {config[i]:x2}");
            sb.Append('\n');
        }
    }

    private static string Flag(ushort value, int bit) => (value & (1 << bit)) != 0 ? "+" : "-";

    private static ushort U16(ReadOnlySpan<byte> config, int offset) => BinaryPrimitives.ReadUInt16LittleEndian(config[offset..]);

    /// <summary>A size in the largest unit (K, M, G, T) that divides it, as lspci shows it.</summary>
    private static string SizeText(ulong size)
    {
        string[] units = ["", "K", "M", "G", "T"];
        int unit = 0;
        while (unit < units.Length - 1 && size != 0 && size % 1024 == 0)
        {
            size /= 1024;
            unit++;
        }
        return $"{size}{units[unit]}";
    }

    private static string ClassName(byte baseClass, byte subclass) => (baseClass, subclass) switch
    {
        (0x07, 0x00) => "Serial controller",
        (0x07, 0x01) => "Parallel controller",
        (0x07, _) => "Communication controller",
        (0x02, _) => "Network controller",
        (0x03, _) => "VGA compatible controller",
        (0x01, _) => "Mass storage controller",
        (0xff, _) => "Unassigned class",
        _ => $"Class {baseClass:x2}{subclass:x2}",
    };

    private static string? ProgIfName(byte baseClass, byte subclass, byte progIf) => (baseClass, subclass, progIf) switch
    {
        (0x07, 0x00, 0x00) => "8250",
        (0x07, 0x00, 0x01) => "16450",
        (0x07, 0x00, 0x02) => "16550",
        (0x07, 0x00, 0x03) => "16650",
        (0x07, 0x00, 0x04) => "16750",
        (0x07, 0x00, 0x05) => "16850",
        (0x07, 0x00, 0x06) => "16950",
        _ => null,
    };
}
