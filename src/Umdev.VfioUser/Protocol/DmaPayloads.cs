using System.Buffers.Binary;
using Umdev.Vfio;

namespace Umdev.VfioUser.Protocol;

/// <summary>DMA_MAP request: argsz, flags, offset (into the passed fd), address (IOVA), size.</summary>
public readonly ref struct DmaMapRequest
{
    public const int Length = 32;

    public uint Argsz { get; init; }
    /// <summary>DMA_MAP flags: the same bits as VFIO's READ/WRITE.</summary>
    public VfioDmaProtection Flags { get; init; }
    public ulong Offset { get; init; }
    public ulong Address { get; init; }
    public ulong Size { get; init; }

    public static DmaMapRequest Parse(ReadOnlySpan<byte> p)
    {
        PayloadThrow.Need(p, Length, "DMA_MAP");
        var r = new DmaMapRequest
        {
            Argsz = BinaryPrimitives.ReadUInt32LittleEndian(p),
            Flags = (VfioDmaProtection)BinaryPrimitives.ReadUInt32LittleEndian(p[4..]),
            Offset = BinaryPrimitives.ReadUInt64LittleEndian(p[8..]),
            Address = BinaryPrimitives.ReadUInt64LittleEndian(p[16..]),
            Size = BinaryPrimitives.ReadUInt64LittleEndian(p[24..]),
        };
        if (r.Argsz < Length) PayloadThrow.Invalid("DMA_MAP argsz too small");
        if (((uint)r.Flags & ~3u) != 0) PayloadThrow.Invalid("DMA_MAP unknown flags");
        return r;
    }

    public int Write(Span<byte> d)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(d, Length);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], (uint)Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], Offset);
        BinaryPrimitives.WriteUInt64LittleEndian(d[16..], Address);
        BinaryPrimitives.WriteUInt64LittleEndian(d[24..], Size);
        return Length;
    }
}

/// <summary>DMA_UNMAP request: argsz, flags (0x2 = all), address, size.</summary>
public readonly ref struct DmaUnmapRequest
{
    public const int Length = 24;
    public const uint FlagAll = 0x2;

    public uint Argsz { get; init; }
    public uint Flags { get; init; }
    public ulong Address { get; init; }
    public ulong Size { get; init; }
    public bool All => (Flags & FlagAll) != 0;

    public static DmaUnmapRequest Parse(ReadOnlySpan<byte> p)
    {
        PayloadThrow.Need(p, Length, "DMA_UNMAP");
        var r = new DmaUnmapRequest
        {
            Argsz = BinaryPrimitives.ReadUInt32LittleEndian(p),
            Flags = BinaryPrimitives.ReadUInt32LittleEndian(p[4..]),
            Address = BinaryPrimitives.ReadUInt64LittleEndian(p[8..]),
            Size = BinaryPrimitives.ReadUInt64LittleEndian(p[16..]),
        };
        if (r.Argsz < Length) PayloadThrow.Invalid("DMA_UNMAP argsz too small");
        // Only ALL is meaningful over vfio-user (no dirty bitmaps, no vaddr updates).
        if ((r.Flags & ~FlagAll) != 0) PayloadThrow.Invalid("DMA_UNMAP unsupported flags");
        return r;
    }

    public int Write(Span<byte> d)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(d, Length);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], Flags);
        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], Address);
        BinaryPrimitives.WriteUInt64LittleEndian(d[16..], Size);
        return Length;
    }
}

/// <summary>
/// DMA_READ/DMA_WRITE (server → client) as the specification lays them out: address u64, count u64,
/// data at 16 (DMA_WRITE request, DMA_READ reply). QEMU 10.x declares a u32 count with data at 12;
/// the specification's layout is used here (see docs/vfio-user.md).
/// </summary>
public readonly ref struct DmaAccess
{
    public const int Length = 16;

    public ulong Address { get; init; }
    public ulong Count { get; init; }
    public ReadOnlySpan<byte> Data { get; init; }

    public static DmaAccess Parse(ReadOnlySpan<byte> p, bool withData)
    {
        PayloadThrow.Need(p, Length, "DMA access");
        var r = new DmaAccess
        {
            Address = BinaryPrimitives.ReadUInt64LittleEndian(p),
            Count = BinaryPrimitives.ReadUInt64LittleEndian(p[8..]),
        };
        if (!withData) return r;
        if ((ulong)(p.Length - Length) != r.Count) PayloadThrow.Invalid("DMA access data length differs from count");
        return r with { Data = p[Length..] };
    }

    public static void WriteHead(Span<byte> d, ulong address, ulong count)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(d, address);
        BinaryPrimitives.WriteUInt64LittleEndian(d[8..], count);
    }
}
