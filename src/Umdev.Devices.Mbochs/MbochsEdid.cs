using System.Buffers.Binary;

namespace Umdev.Devices.Mbochs;

/// <summary>
/// The EDID region (mbochs.md §1.3): <c>struct vfio_region_gfx_edid</c> at offset 0, the blob the VMM
/// writes at <see cref="BlobOffset"/>; the device shows the blob at BAR2 + 0 while the link is up. Not
/// thread-safe: the device lock serialises every access.
/// </summary>
internal sealed class MbochsEdid(ushort maxXres, ushort maxYres)
{
    public const int RegionSize = 4096;
    public const int BlobOffset = RegionSize / 2;
    public const int BlobMaxSize = 0x400;
    public const uint LinkUp = 1, LinkDown = 2;

    // Offsets in struct vfio_region_gfx_edid.
    private const int EdidOffsetField = 0, EdidMaxSizeField = 4, EdidSizeField = 8, MaxXresField = 12, MaxYresField = 16, LinkStateField = 20;
    private const int RegsSize = 24;

    /// <summary>Bytes of the saved state: edid_size, link_state, the blob.</summary>
    public const int StateSize = 8 + BlobMaxSize;

    private readonly byte[] _blob = new byte[BlobMaxSize];
    private uint _edidSize, _linkState;

    /// <summary>One piece (4, 2 or 1 aligned bytes) of a region read; what the sample does not serve reads 0.</summary>
    public void Read(int offset, Span<byte> piece)
    {
        piece.Clear();
        if (offset < BlobOffset)
        {
            // The registers answer aligned 32-bit reads only, as the sample's handle_edid_regs.
            if (piece.Length != 4 || offset % 4 != 0 || offset + 4 > RegsSize) return;
            BinaryPrimitives.WriteUInt32LittleEndian(piece, Register(offset));
        }
        else if (offset - BlobOffset + piece.Length <= BlobMaxSize)
        {
            _blob.AsSpan(offset - BlobOffset, piece.Length).CopyTo(piece);
        }
    }

    /// <summary>
    /// One piece of a region write: edid_size and link_state take aligned 32-bit writes, the blob any write
    /// inside it; everything else is ignored, as in the sample. umdev hardening: an edid_size larger than
    /// edid_max_size is ignored too (the sample stores it; its reads stay inside the blob either way).
    /// </summary>
    public void Write(int offset, ReadOnlySpan<byte> piece)
    {
        if (offset < BlobOffset)
        {
            if (piece.Length != 4 || offset % 4 != 0) return;
            uint value = BinaryPrimitives.ReadUInt32LittleEndian(piece);
            if (offset == EdidSizeField && value <= BlobMaxSize) _edidSize = value;
            else if (offset == LinkStateField) _linkState = value;
        }
        else if (offset - BlobOffset + piece.Length <= BlobMaxSize)
        {
            piece.CopyTo(_blob.AsSpan(offset - BlobOffset));
        }
    }

    /// <summary>BAR2 0x000–0x3ff: the blob while the link is up and inside edid_size, else zeros.</summary>
    public void ReadBar(int offset, Span<byte> piece)
    {
        if (_linkState != LinkUp || offset >= _edidSize) piece.Clear();
        else _blob.AsSpan(offset, piece.Length).CopyTo(piece);
    }

    private uint Register(int offset) => offset switch
    {
        EdidOffsetField => BlobOffset,
        EdidMaxSizeField => BlobMaxSize,
        EdidSizeField => _edidSize,
        MaxXresField => maxXres,
        MaxYresField => maxYres,
        _ => _linkState,
    };

    public void Save(Span<byte> state)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(state, _edidSize);
        BinaryPrimitives.WriteUInt32LittleEndian(state[4..], _linkState);
        _blob.CopyTo(state[8..]);
    }

    /// <summary>Whether a saved state keeps the invariants (edid_size inside the blob).</summary>
    public static bool IsValidState(ReadOnlySpan<byte> state) => BinaryPrimitives.ReadUInt32LittleEndian(state) <= BlobMaxSize;

    public void Load(ReadOnlySpan<byte> state)
    {
        _edidSize = BinaryPrimitives.ReadUInt32LittleEndian(state);
        _linkState = BinaryPrimitives.ReadUInt32LittleEndian(state[4..]);
        state.Slice(8, BlobMaxSize).CopyTo(_blob);
    }
}
