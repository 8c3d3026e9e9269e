using System.Buffers.Binary;

namespace Umdev.VfioUser.Protocol;

/// <summary>DEVICE_SET_IRQS: argsz, flags, index, start, count, then BOOL bytes (eventfds travel as SCM_RIGHTS).</summary>
public readonly ref struct SetIrqsPayload
{
    public const int Length = 20;

    public uint Argsz { get; init; }
    public uint Flags { get; init; }
    public uint Index { get; init; }
    public uint Start { get; init; }
    public uint Count { get; init; }
    public ReadOnlySpan<byte> Data { get; init; }

    public static SetIrqsPayload Parse(ReadOnlySpan<byte> p)
    {
        PayloadThrow.Need(p, Length, "SET_IRQS");
        return new SetIrqsPayload
        {
            Argsz = BinaryPrimitives.ReadUInt32LittleEndian(p),
            Flags = BinaryPrimitives.ReadUInt32LittleEndian(p[4..]),
            Index = BinaryPrimitives.ReadUInt32LittleEndian(p[8..]),
            Start = BinaryPrimitives.ReadUInt32LittleEndian(p[12..]),
            Count = BinaryPrimitives.ReadUInt32LittleEndian(p[16..]),
            Data = p[Length..],
        };
    }

    public static int Write(Span<byte> d, uint flags, uint index, uint start, uint count, ReadOnlySpan<byte> data)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(d, (uint)(Length + data.Length));
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], index);
        BinaryPrimitives.WriteUInt32LittleEndian(d[12..], start);
        BinaryPrimitives.WriteUInt32LittleEndian(d[16..], count);
        data.CopyTo(d[Length..]);
        return Length + data.Length;
    }
}
