using System.Buffers.Binary;
using System.Text;

namespace Umdev.Guest;

/// <summary>
/// The <c>Capabilities:</c> lines of <c>lspci -vv</c> for the capability list: MSI, MSI-X and
/// vendor-specific ones decoded (virtio's as lspci decodes them), any other shown by id.
/// </summary>
internal static class LspciCapabilities
{
    private const ushort VirtioVendor = 0x1af4;

    public static void Append(StringBuilder sb, ReadOnlySpan<byte> config, ushort vendor, ushort device)
    {
        Span<bool> seen = stackalloc bool[256];
        int where = config[PciRegisters.CapabilityPointer] & ~3;
        while (where != 0)
        {
            sb.Append("\tCapabilities: ");
            if (where + 4 > config.Length)
            {
                sb.Append("<access denied>\n");
                break;
            }
            byte id = config[where];
            int next = config[where + 1] & ~3;
            ushort cap = U16(config, where + 2);
            sb.Append($"[{where:x2}] ");
            if (seen[where])
            {
                sb.Append("<chain looped>\n");
                break;
            }
            seen[where] = true;
            switch (id)
            {
                case 0xff:
                    sb.Append("<chain broken>\n");
                    return;
                case 0x00:
                    sb.Append("Null\n");
                    break;
                case PciRegisters.CapabilityIdMsi:
                    Msi(sb, config, where, cap);
                    break;
                case PciRegisters.CapabilityIdMsiX:
                    MsiX(sb, config, where, cap);
                    break;
                case PciRegisters.CapabilityIdVendor:
                    sb.Append("Vendor Specific Information: ");
                    if (!(vendor == VirtioVendor && device is >= 0x1000 and <= 0x107f && Virtio(sb, config, where, cap)))
                        sb.Append($"Len={cap & 0xff:x2} <?>\n");
                    break;
                default:
                    sb.Append($"Capability ID 0x{id:x} [{cap:x4}]\n");
                    break;
            }
            where = next;
        }
    }

    private static void Msi(StringBuilder sb, ReadOnlySpan<byte> config, int where, ushort cap)
    {
        bool is64 = (cap & 0x80) != 0, maskable = (cap & 0x100) != 0;
        sb.Append($"MSI: Enable{Flag(cap, 0x1)} Count={1 << ((cap & 0x70) >> 4)}/{1 << ((cap & 0x0e) >> 1)} Maskable{Flag(cap, 0x100)} 64bit{Flag(cap, 0x80)}\n");
        int data = where + (is64 ? 12 : 8);
        if (data + 2 > config.Length) return;
        sb.Append("\t\tAddress: ");
        if (is64) sb.Append($"{U32(config, where + 8):x8}");
        sb.Append($"{U32(config, where + 4):x8}  Data: {U16(config, data):x4}\n");
        int mask = where + (is64 ? 16 : 12);
        if (maskable && mask + 8 <= config.Length)
            sb.Append($"\t\tMasking: {U32(config, mask):x8}  Pending: {U32(config, mask + 4):x8}\n");
    }

    private static void MsiX(StringBuilder sb, ReadOnlySpan<byte> config, int where, ushort cap)
    {
        sb.Append($"MSI-X: Enable{Flag(cap, 0x8000)} Count={(cap & 0x7ff) + 1} Masked{Flag(cap, 0x4000)}\n");
        if (where + 12 > config.Length) return;
        uint table = U32(config, where + 4), pba = U32(config, where + 8);
        sb.Append($"\t\tVector table: BAR={table & 7} offset={table & ~7u:x8}\n");
        sb.Append($"\t\tPBA: BAR={pba & 7} offset={pba & ~7u:x8}\n");
    }

    /// <summary>A virtio 1.x structure pointer: its type, and where it lives in which BAR.</summary>
    private static bool Virtio(StringBuilder sb, ReadOnlySpan<byte> config, int where, ushort cap)
    {
        int length = cap & 0xff, type = cap >> 8;
        if (length < 16 || where + Math.Max(length, type == 8 ? 24 : 16) > config.Length) return false;
        string name = type switch
        {
            1 => "CommonCfg",
            2 => "Notify",
            3 => "ISR",
            4 => "DeviceCfg",
            8 => "SharedMemory",
            _ => "<unknown>",
        };
        sb.Append($"VirtIO: {name}\n");
        byte bar = config[where + 4];
        uint offset = U32(config, where + 8), size = U32(config, where + 12);
        if (type != 8)
            sb.Append($"\t\tBAR={bar} offset={offset:x8} size={size:x8}");
        else
        {
            ulong offset64 = offset | (ulong)U32(config, where + 16) << 32;
            ulong size64 = size | (ulong)U32(config, where + 20) << 32;
            sb.Append($"\t\tBAR={bar} offset={offset64:x16} size={size64:x16} id={config[where + 5]}");
        }
        if (type == 2 && length >= 20) sb.Append($" multiplier={U32(config, where + 16):x8}");
        sb.Append('\n');
        return true;
    }

    private static char Flag(ushort value, int bit) => (value & bit) != 0 ? '+' : '-';

    private static ushort U16(ReadOnlySpan<byte> config, int offset) => BinaryPrimitives.ReadUInt16LittleEndian(config[offset..]);

    private static uint U32(ReadOnlySpan<byte> config, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(config[offset..]);
}
