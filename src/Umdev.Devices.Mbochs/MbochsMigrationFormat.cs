using System.Buffers.Binary;

namespace Umdev.Devices.Mbochs;

/// <summary>
/// mbochs's migration stream (the sample has none; umdev's own), the model's paged-memory stream
/// (<see cref="Umdev.Vfio.Migration.VfioPagedMemoryStream"/>): a 16-byte header (magic, version, the type's
/// megabytes), page records of 4096 bytes, then the end record with the registers (<see cref="RegistersSize"/>
/// bytes: the 11 DISPI registers, 2 bytes of padding, config space, EDID state).
/// </summary>
internal static class MbochsMigrationFormat
{
    public const ulong Magic = 0x53484342_4F4D4455; // "UDMOBCHS" little-endian
    public const uint Version = 1;
    public const int HeaderSize = 16;
    public const int PageSize = 4096;
    public const int DispiSize = Dispi.Count * 2 + 2;
    public const int RegistersSize = DispiSize + MbochsConfigSpace.Size + MbochsEdid.StateSize;

    public static void WriteHeader(Span<byte> header, int memoryMb)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(header, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], (uint)memoryMb);
    }

    public static bool IsValidHeader(ReadOnlySpan<byte> header, int memoryMb) =>
        BinaryPrimitives.ReadUInt64LittleEndian(header) == Magic &&
        BinaryPrimitives.ReadUInt32LittleEndian(header[8..]) == Version &&
        BinaryPrimitives.ReadUInt32LittleEndian(header[12..]) == (uint)memoryMb;
}
