using System.Buffers.Binary;
using Umdev.Interop;

namespace Umdev.Vfio;

/// <summary>
/// <c>vfio_region_info</c> and its capability chain. <see cref="MmapHandle"/> is the descriptor a
/// transport passes for mmap-able regions (vfio-user sends it with the reply); null otherwise.
/// </summary>
public sealed record VfioRegionInfo(uint Index, VfioRegionFlags Flags, ulong Size, ulong Offset)
{
    public const uint MinArgsz = 32;

    public IReadOnlyList<VfioRegionCapability> Capabilities { get; init; } = [];

    public FileDescriptorHandle? MmapHandle { get; init; }

    /// <summary>Bytes the caps need after the 32-byte fixed part.</summary>
    public int CapabilitiesSize => Capabilities.Sum(c => Align8(c.Size));

    /// <summary>
    /// Writes the structure as the kernel returns it to a caller whose buffer is <paramref name="argsz"/>
    /// bytes: when the caps do not fit, the CAPS flag is set, cap_offset is 0 and argsz names the size
    /// needed. Returns the bytes written (at most argsz, at least 32).
    /// </summary>
    public int Encode(Span<byte> destination, uint argsz)
    {
        uint needed = MinArgsz + (uint)CapabilitiesSize;
        var flags = Flags;
        uint capOffset = 0;
        int written = (int)MinArgsz;
        if (Capabilities.Count > 0)
        {
            flags |= VfioRegionFlags.Caps;
            if (argsz >= needed)
            {
                capOffset = MinArgsz;
                int at = (int)MinArgsz;
                for (int i = 0; i < Capabilities.Count; i++)
                {
                    var cap = Capabilities[i];
                    int size = Align8(cap.Size);
                    var slot = destination.Slice(at, size);
                    slot.Clear();
                    uint next = i + 1 < Capabilities.Count ? (uint)(at + size) : 0;
                    BinaryPrimitives.WriteUInt16LittleEndian(slot, cap.Id);
                    BinaryPrimitives.WriteUInt16LittleEndian(slot[2..], cap.Version);
                    BinaryPrimitives.WriteUInt32LittleEndian(slot[4..], next);
                    cap.EncodeBody(slot[8..]);
                    at += size;
                }
                written = at;
            }
        }
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Math.Max(needed, MinArgsz));
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], (uint)flags);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], Index);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], capOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[16..], Size);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[24..], Offset);
        return written;
    }

    private static int Align8(int n) => (n + 7) & ~7;
}

/// <summary>One entry of a region's capability chain (<c>vfio_info_cap_header</c> + body).</summary>
public abstract record VfioRegionCapability(ushort Id, ushort Version)
{
    /// <summary>Size including the 8-byte header, before padding.</summary>
    public abstract int Size { get; }

    /// <summary>Writes the body (what follows the header).</summary>
    public abstract void EncodeBody(Span<byte> body);
}

/// <summary>An mmap-able sub-range of a region, relative to its start.</summary>
public readonly record struct VfioSparseMmapArea(ulong Offset, ulong Size);

/// <summary><c>VFIO_REGION_INFO_CAP_SPARSE_MMAP</c> (id 1): only these areas may be mmapped.</summary>
public sealed record VfioSparseMmapCapability(IReadOnlyList<VfioSparseMmapArea> Areas) : VfioRegionCapability(1, 1)
{
    public override int Size => 16 + 16 * Areas.Count;

    public override void EncodeBody(Span<byte> body)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(body, (uint)Areas.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(body[4..], 0);
        for (int i = 0; i < Areas.Count; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(body[(8 + 16 * i)..], Areas[i].Offset);
            BinaryPrimitives.WriteUInt64LittleEndian(body[(16 + 16 * i)..], Areas[i].Size);
        }
    }
}

/// <summary><c>VFIO_REGION_INFO_CAP_TYPE</c> (id 2): type and subtype of a device-specific region.</summary>
public sealed record VfioRegionTypeCapability(uint Type, uint Subtype) : VfioRegionCapability(2, 1)
{
    public override int Size => 16;

    public override void EncodeBody(Span<byte> body)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(body, Type);
        BinaryPrimitives.WriteUInt32LittleEndian(body[4..], Subtype);
    }
}
