using System.Buffers.Binary;

namespace Umdev.Fuzz;

/// <summary>Little-endian fields for hand-written seeds (the wire formats are all little-endian).</summary>
internal static class SeedBytes
{
    public static byte[] U32s(params uint[] v)
    {
        var b = new byte[4 * v.Length];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4 * i), v[i]);
        return b;
    }

    public static byte[] U64s(params ulong[] v)
    {
        var b = new byte[8 * v.Length];
        for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8 * i), v[i]);
        return b;
    }
}
