using System.Buffers.Binary;

namespace Umdev.VfioUser.Protocol;

/// <summary>REGION_READ/REGION_WRITE: offset u64, region u32, count u32, data at 16 (write request, read reply).</summary>
public readonly ref struct RegionAccess
{
    public const int Length = 16;

    public ulong Offset { get; init; }
    public uint Region { get; init; }
    public uint Count { get; init; }
    public ReadOnlySpan<byte> Data { get; init; }

    /// <summary>Parses; with <paramref name="withData"/> the payload must carry exactly <c>count</c> bytes.</summary>
    public static RegionAccess Parse(ReadOnlySpan<byte> p, bool withData)
    {
        PayloadThrow.Need(p, Length, "region access");
        var r = new RegionAccess
        {
            Offset = BinaryPrimitives.ReadUInt64LittleEndian(p),
            Region = BinaryPrimitives.ReadUInt32LittleEndian(p[8..]),
            Count = BinaryPrimitives.ReadUInt32LittleEndian(p[12..]),
        };
        if (!withData) return r;
        if ((uint)(p.Length - Length) != r.Count) PayloadThrow.Invalid("region access data length differs from count");
        return r with { Data = p[Length..] };
    }

    public static void WriteHead(Span<byte> d, ulong offset, uint region, uint count)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(d, offset);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], region);
        BinaryPrimitives.WriteUInt32LittleEndian(d[12..], count);
    }
}

/// <summary>REGION_WRITE_MULTI: wr_cnt u64, then wr_cnt entries {offset u64, region u32, count u32 (≤ 8), data[8]}.</summary>
public readonly ref struct RegionWriteMulti
{
    public const int HeadLength = 8;
    public const int EntryLength = 24;
    public const int MaxEntryData = 8;

    private readonly ReadOnlySpan<byte> _entries;

    private RegionWriteMulti(ulong count, ReadOnlySpan<byte> entries)
    {
        Count = (int)count;
        _entries = entries;
    }

    public int Count { get; }

    public static RegionWriteMulti Parse(ReadOnlySpan<byte> p)
    {
        PayloadThrow.Need(p, HeadLength, "REGION_WRITE_MULTI");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(p);
        ulong room = (ulong)(p.Length - HeadLength) / EntryLength;
        if (n == 0 || n != room || (ulong)(p.Length - HeadLength) % EntryLength != 0)
            PayloadThrow.Invalid("REGION_WRITE_MULTI count does not match its size");
        return new RegionWriteMulti(n, p[HeadLength..]);
    }

    /// <summary>Entry <paramref name="i"/>; EINVAL if its count exceeds 8.</summary>
    public RegionAccess this[int i]
    {
        get
        {
            var e = _entries.Slice(i * EntryLength, EntryLength);
            uint count = BinaryPrimitives.ReadUInt32LittleEndian(e[12..]);
            if (count > MaxEntryData) PayloadThrow.Invalid("REGION_WRITE_MULTI entry count above 8");
            return new RegionAccess
            {
                Offset = BinaryPrimitives.ReadUInt64LittleEndian(e),
                Region = BinaryPrimitives.ReadUInt32LittleEndian(e[8..]),
                Count = count,
                Data = e.Slice(16, (int)count),
            };
        }
    }
}

/// <summary>DEVICE_FEATURE: argsz u32, flags u32 (index | GET 0x10000 | SET 0x20000 | PROBE 0x40000), data.</summary>
public readonly ref struct DeviceFeaturePayload
{
    public const int Length = 8;

    public uint Argsz { get; init; }
    public uint Flags { get; init; }
    public ReadOnlySpan<byte> Data { get; init; }

    public static DeviceFeaturePayload Parse(ReadOnlySpan<byte> p)
    {
        PayloadThrow.Need(p, Length, "DEVICE_FEATURE");
        return new DeviceFeaturePayload
        {
            Argsz = BinaryPrimitives.ReadUInt32LittleEndian(p),
            Flags = BinaryPrimitives.ReadUInt32LittleEndian(p[4..]),
            Data = p[Length..],
        };
    }
}
