using System.Buffers.Binary;

namespace Umdev.Devices.Mtty;

/// <summary>
/// mtty's migration stream (mtty.md §11.2, the kernel's <c>struct mtty_data</c> on x86-64): a 24-byte
/// header, then one 36-byte record per port.
/// </summary>
internal static class MttyMigrationFormat
{
    public const ulong Magic = 0x7E9D09898C3E2C4E;
    public const uint MajorVersion = 1;
    public const uint MinorVersion = 0;
    public const int HeaderSize = 24;

    public static int StreamSize(int numPorts) => HeaderSize + MttyUartPort.RecordSize * numPorts;

    public static void WriteHeader(Span<byte> header, int numPorts)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(header, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], MajorVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], MinorVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], (uint)numPorts);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], 0); // flags
    }

    /// <summary>The kernel's header check: magic, flags 0, version 1.0 and this device's port count.</summary>
    public static bool IsValidHeader(ReadOnlySpan<byte> header, int numPorts) =>
        BinaryPrimitives.ReadUInt64LittleEndian(header) == Magic &&
        BinaryPrimitives.ReadUInt32LittleEndian(header[8..]) == MajorVersion &&
        BinaryPrimitives.ReadUInt32LittleEndian(header[12..]) == MinorVersion &&
        BinaryPrimitives.ReadUInt32LittleEndian(header[16..]) == (uint)numPorts &&
        BinaryPrimitives.ReadUInt32LittleEndian(header[20..]) == 0;
}
