using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.VfioUser.Client;

/// <summary>Reads a GET_REGION_INFO reply (32 bytes + capability chain) into a <see cref="VfioRegionInfo"/>.</summary>
public static class VfioUserRegionInfoDecoder
{
    /// <summary>
    /// Decodes; <paramref name="needed"/> is the argsz the server asked for and <paramref name="capsMissing"/>
    /// tells that the CAPS flag is set but the chain did not fit. Every cap offset is bounds-checked and a
    /// loop in the chain is refused (EPROTO).
    /// </summary>
    public static VfioRegionInfo Decode(ReadOnlySpan<byte> p, out uint needed, out bool capsMissing)
    {
        if (p.Length < VfioRegionInfo.MinArgsz) ThrowHelper.Throw(Errno.EPROTO, "short region info reply");
        needed = BinaryPrimitives.ReadUInt32LittleEndian(p);
        var flags = (VfioRegionFlags)BinaryPrimitives.ReadUInt32LittleEndian(p[4..]);
        uint index = BinaryPrimitives.ReadUInt32LittleEndian(p[8..]);
        uint capOffset = BinaryPrimitives.ReadUInt32LittleEndian(p[12..]);
        ulong size = BinaryPrimitives.ReadUInt64LittleEndian(p[16..]);
        ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(p[24..]);
        capsMissing = (flags & VfioRegionFlags.Caps) != 0 && capOffset == 0;
        var caps = new List<VfioRegionCapability>();
        if ((flags & VfioRegionFlags.Caps) != 0 && capOffset != 0)
        {
            uint at = capOffset;
            for (int guard = 0; at != 0; guard++)
            {
                if (guard > 64 || at < VfioRegionInfo.MinArgsz || (ulong)at + 8 > (ulong)p.Length)
                    ThrowHelper.Throw(Errno.EPROTO, "bad capability chain");
                var cap = p[(int)at..];
                ushort id = BinaryPrimitives.ReadUInt16LittleEndian(cap);
                uint next = BinaryPrimitives.ReadUInt32LittleEndian(cap[4..]);
                if (id == 1 && cap.Length >= 16)
                {
                    uint nr = BinaryPrimitives.ReadUInt32LittleEndian(cap[8..]);
                    if ((ulong)nr * 16 + 16 > (ulong)cap.Length) ThrowHelper.Throw(Errno.EPROTO, "bad sparse mmap capability");
                    var areas = new VfioSparseMmapArea[nr];
                    for (int i = 0; i < nr; i++)
                        areas[i] = new VfioSparseMmapArea(BinaryPrimitives.ReadUInt64LittleEndian(cap[(16 + 16 * i)..]),
                            BinaryPrimitives.ReadUInt64LittleEndian(cap[(24 + 16 * i)..]));
                    caps.Add(new VfioSparseMmapCapability(areas));
                }
                else if (id == 2 && cap.Length >= 16)
                {
                    caps.Add(new VfioRegionTypeCapability(BinaryPrimitives.ReadUInt32LittleEndian(cap[8..]), BinaryPrimitives.ReadUInt32LittleEndian(cap[12..])));
                }
                if (next != 0 && next <= at) ThrowHelper.Throw(Errno.EPROTO, "capability chain goes backwards");
                at = next;
            }
        }
        // The CAPS flag is derived from the capabilities when the record is encoded again.
        return new VfioRegionInfo(index, caps.Count > 0 ? flags & ~VfioRegionFlags.Caps : flags, size, offset) { Capabilities = caps };
    }
}
