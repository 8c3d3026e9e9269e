using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.VfioUser.Protocol;

namespace Umdev.VfioUser.Display;

/// <summary>
/// umdev's display socket request (8 bytes, little-endian): magic <c>UMDQ</c> u32 @0, version u16 @4
/// (2: pixels inline; version 1 handed a memfd), command u16 @6 (1: query the primary plane). Anything else is refused.
/// </summary>
public static class DisplayRequest
{
    public const int Length = 8;
    public const uint Magic = 0x51444D55; // "UMDQ"
    public const ushort Version = 2;
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
/// the pixels that follow: 0), and how many bytes of pixels follow u64 @40: with errno 0 and a format set,
/// the plane's stride × height bytes, else 0. No descriptor ever travels with it: the display gives pixels,
/// never memory, so a client holds nothing of the daemon's once the connection is closed.
/// </summary>
public readonly ref struct DisplayReply
{
    public const int Length = 48;
    public const uint Magic = 0x52444D55; // "UMDR"

    /// <summary>The most pixel bytes a client accepts (64 MiB: 4096 × 4096 XRGB8888).</summary>
    public const ulong MaxPixelBytes = 64ul << 20;

    public DisplayReply(Errno error, VfioGfxPlane plane, ulong pixelBytes)
    {
        Error = error;
        Plane = plane;
        PixelBytes = pixelBytes;
    }

    /// <summary>0 on success, else the errno the query failed with.</summary>
    public Errno Error { get; }
    /// <summary>The plane (<see cref="VfioGfxPlane.None"/> when the display shows nothing).</summary>
    public VfioGfxPlane Plane { get; }
    /// <summary>Bytes of pixels that follow the reply (0 without a plane).</summary>
    public ulong PixelBytes { get; }

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
        BinaryPrimitives.WriteUInt64LittleEndian(d[40..], PixelBytes);
        return Length;
    }

    /// <summary>
    /// Decodes and checks a reply: its size and magic; for a plane, a format the client understands
    /// (XRGB8888), a stride holding the width, and exactly stride × height bytes of pixels to follow, at most
    /// <see cref="MaxPixelBytes"/> (overflow-safe), so a client allocates no more than that. EPROTO
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
        ulong pixelBytes = BinaryPrimitives.ReadUInt64LittleEndian(p[40..]);
        if (plane.IsEnabled)
        {
            if (plane.DrmFormat != VfioGfxPlane.DrmFormatXrgb8888) Malformed($"unknown format 0x{plane.DrmFormat:x8}");
            if (plane.Width == 0 || plane.Height == 0 || plane.Stride / 4 < plane.Width) Malformed("plane geometry");
            if (plane.Offset != 0 || plane.Size != pixelBytes) Malformed("pixel bytes other than stride x height");
            if (plane.Size > MaxPixelBytes) Malformed("plane too large");
        }
        else if (pixelBytes != 0) Malformed("pixels without a plane");
        return new DisplayReply(0, plane, pixelBytes);
    }

    private static void Malformed(string what) => ThrowHelper.Throw(Errno.EPROTO, $"display reply: {what}");
}
