using System.Buffers.Binary;

namespace Umdev.VfioUser.Protocol;

/// <summary>
/// The 16-byte layouts shared by DEVICE_GET_INFO (argsz, flags, num_regions, num_irqs), GET_IRQ_INFO
/// (argsz, flags, index, count) and GET_REGION_IO_FDS (argsz, flags, index, count).
/// </summary>
public readonly ref struct Info16
{
    public const int Length = 16;

    public Info16(uint argsz, uint flags, uint a, uint b)
    {
        Argsz = argsz;
        Flags = flags;
        A = a;
        B = b;
    }

    public uint Argsz { get; }
    public uint Flags { get; }
    /// <summary>num_regions or index.</summary>
    public uint A { get; }
    /// <summary>num_irqs or count.</summary>
    public uint B { get; }

    public static Info16 Parse(ReadOnlySpan<byte> p, string what)
    {
        PayloadThrow.Need(p, Length, what);
        return new Info16(BinaryPrimitives.ReadUInt32LittleEndian(p), BinaryPrimitives.ReadUInt32LittleEndian(p[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(p[8..]), BinaryPrimitives.ReadUInt32LittleEndian(p[12..]));
    }

    public int Write(Span<byte> d)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(d, Argsz);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], A);
        BinaryPrimitives.WriteUInt32LittleEndian(d[12..], B);
        return Length;
    }
}

/// <summary>GET_REGION_INFO request: argsz u32 @0, index u32 @8 (the rest of the 32 bytes is ignored).</summary>
public readonly ref struct RegionInfoRequest
{
    public const int Length = 32;

    public uint Argsz { get; init; }
    public uint Index { get; init; }

    public static RegionInfoRequest Parse(ReadOnlySpan<byte> p)
    {
        PayloadThrow.Need(p, Length, "GET_REGION_INFO");
        return new RegionInfoRequest
        {
            Argsz = BinaryPrimitives.ReadUInt32LittleEndian(p),
            Index = BinaryPrimitives.ReadUInt32LittleEndian(p[8..]),
        };
    }

    public static int Write(Span<byte> d, uint argsz, uint index)
    {
        d[..Length].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(d, argsz);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], index);
        return Length;
    }
}
