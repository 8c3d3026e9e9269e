using System.Buffers.Binary;
using System.Text;

namespace Umdev.Sysfs.Fuse;

/// <summary>One request read from /dev/fuse: fuse_in_header, then the opcode's argument bytes.</summary>
internal readonly ref struct FuseRequest
{
    private readonly ReadOnlySpan<byte> _bytes;

    private FuseRequest(ReadOnlySpan<byte> bytes) => _bytes = bytes;

    /// <summary>Validates the header's length against what was read; false for a malformed request.</summary>
    public static bool TryParse(ReadOnlySpan<byte> read, out FuseRequest request)
    {
        request = default;
        if (read.Length < FuseConst.InHeaderSize) return false;
        uint len = BinaryPrimitives.ReadUInt32LittleEndian(read);
        if (len < FuseConst.InHeaderSize || len > (uint)read.Length) return false;
        request = new FuseRequest(read[..(int)len]);
        return true;
    }

    public FuseOpcode Opcode => (FuseOpcode)BinaryPrimitives.ReadUInt32LittleEndian(_bytes[4..]);
    public ulong Unique => BinaryPrimitives.ReadUInt64LittleEndian(_bytes[8..]);
    public ulong NodeId => BinaryPrimitives.ReadUInt64LittleEndian(_bytes[16..]);
    public ReadOnlySpan<byte> Body => _bytes[FuseConst.InHeaderSize..];

    /// <summary>Reads a little-endian field of the body; false if the body is too short for it.</summary>
    public bool TryU32(int offset, out uint value)
    {
        value = 0;
        if ((uint)offset > (uint)Body.Length || Body.Length - offset < 4) return false;
        value = BinaryPrimitives.ReadUInt32LittleEndian(Body[offset..]);
        return true;
    }

    public bool TryU64(int offset, out ulong value)
    {
        value = 0;
        if ((uint)offset > (uint)Body.Length || Body.Length - offset < 8) return false;
        value = BinaryPrimitives.ReadUInt64LittleEndian(Body[offset..]);
        return true;
    }

    /// <summary>The NUL-terminated name that LOOKUP carries; null if absent, empty, or not a single component.</summary>
    public string? Name()
    {
        int nul = Body.IndexOf((byte)0);
        if (nul <= 0) return null;
        var raw = Body[..nul];
        if (raw.IndexOf((byte)'/') >= 0) return null;
        return Encoding.UTF8.GetString(raw);
    }
}
