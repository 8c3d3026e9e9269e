using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.VfioUser.Protocol;

namespace Umdev.VfioUser.Display;

/// <summary>
/// umdev's display socket request (8 bytes, little-endian): magic <c>UMDQ</c> u32 @0, version u16 @4
/// (1), command u16 @6 (1: query the primary plane). Anything else is refused.
/// </summary>
public static class DisplayRequest
{
    public const int Length = 8;
    public const uint Magic = 0x51444D55; // "UMDQ"
    public const ushort Version = 1;
    public const ushort QueryPrimaryPlane = 1;

    public static void Validate(ReadOnlySpan<byte> p)
    {
        if (p.Length != Length) PayloadThrow.Invalid($"display request of {p.Length} bytes (expected {Length})");
        if (BinaryPrimitives.ReadUInt32LittleEndian(p) != Magic) PayloadThrow.Invalid("display request: bad magic");
        if (BinaryPrimitives.ReadUInt16LittleEndian(p[4..]) != Version) PayloadThrow.Invalid("display request: unknown version");
        if (BinaryPrimitives.ReadUInt16LittleEndian(p[6..]) != QueryPrimaryPlane) PayloadThrow.Invalid("display request: unknown command");
    }

    public static int Write(Span<byte> d)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(d, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(d[4..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(d[6..], QueryPrimaryPlane);
        return Length;
    }
}

/// <summary>
/// The reply (48 bytes, little-endian): magic <c>UMDR</c> u32 @0, errno u32 @4 (0: success), then the plane:
/// drm_format @8, width @12, height @16, stride @20, region_index @24, reserved @28 (0), offset u64 @32 (into
/// the descriptor: 0), and the size of the memory u64 @40. With errno 0 and a format set, exactly one
/// descriptor travels with the reply: a snapshot of the plane's bytes alone, a memfd sealed against writing,
/// resizing and further seals, opened read-only, mapped from 0; otherwise none.
/// </summary>
public readonly ref struct DisplayReply
{
    public const int Length = 48;
    public const uint Magic = 0x52444D55; // "UMDR"

    public DisplayReply(Errno error, VfioGfxPlane plane, ulong memorySize)
    {
        Error = error;
        Plane = plane;
        MemorySize = memorySize;
    }

    /// <summary>0 on success, else the errno the query failed with.</summary>
    public Errno Error { get; }
    /// <summary>The plane (<see cref="VfioGfxPlane.None"/> when the display shows nothing).</summary>
    public VfioGfxPlane Plane { get; }
    /// <summary>Bytes of the memory the descriptor gives (0 without one).</summary>
    public ulong MemorySize { get; }

    public int Write(Span<byte> d)
    {
        d[..Length].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(d, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], (uint)Error);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], Plane.DrmFormat);
        BinaryPrimitives.WriteUInt32LittleEndian(d[12..], Plane.Width);
        BinaryPrimitives.WriteUInt32LittleEndian(d[16..], Plane.Height);
        BinaryPrimitives.WriteUInt32LittleEndian(d[20..], Plane.Stride);
        BinaryPrimitives.WriteUInt32LittleEndian(d[24..], Plane.RegionIndex);
        BinaryPrimitives.WriteUInt64LittleEndian(d[32..], Plane.Offset);
        BinaryPrimitives.WriteUInt64LittleEndian(d[40..], MemorySize);
        return Length;
    }

    /// <summary>
    /// Decodes and checks a reply: its size and magic; for a plane, a format the client understands
    /// (XRGB8888), a stride holding the width, and the frame inside the memory (overflow-safe). EPROTO
    /// otherwise; the daemon's errno comes back as an <see cref="ErrnoException"/>.
    /// </summary>
    public static DisplayReply Parse(ReadOnlySpan<byte> p)
    {
        if (p.Length != Length || BinaryPrimitives.ReadUInt32LittleEndian(p) != Magic) Malformed("bad reply");
        var error = (Errno)BinaryPrimitives.ReadUInt32LittleEndian(p[4..]);
        if (error != 0) ThrowHelper.Throw(error, "the daemon could not query the display");
        var plane = new VfioGfxPlane(BinaryPrimitives.ReadUInt32LittleEndian(p[8..]), BinaryPrimitives.ReadUInt32LittleEndian(p[12..]),
            BinaryPrimitives.ReadUInt32LittleEndian(p[16..]), BinaryPrimitives.ReadUInt32LittleEndian(p[20..]),
            BinaryPrimitives.ReadUInt32LittleEndian(p[24..]), BinaryPrimitives.ReadUInt64LittleEndian(p[32..]));
        ulong memorySize = BinaryPrimitives.ReadUInt64LittleEndian(p[40..]);
        if (plane.IsEnabled)
        {
            if (plane.DrmFormat != VfioGfxPlane.DrmFormatXrgb8888) Malformed($"unknown format 0x{plane.DrmFormat:x8}");
            if (plane.Width == 0 || plane.Height == 0 || plane.Stride / 4 < plane.Width) Malformed("plane geometry");
            if (plane.Offset > memorySize || plane.Size > memorySize - plane.Offset) Malformed("plane outside the memory");
            if (plane.Size > int.MaxValue) Malformed("plane too large");
        }
        return new DisplayReply(0, plane, memorySize);
    }

    private static void Malformed(string what) => ThrowHelper.Throw(Errno.EPROTO, $"display reply: {what}");
}
