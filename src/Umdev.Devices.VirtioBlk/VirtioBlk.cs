namespace Umdev.Devices.VirtioBlk;

/// <summary>The virtio-blk wire format (VIRTIO 1.2 §5.2; virtio-pci.md §5).</summary>
internal static class VirtioBlk
{
    public const ushort DeviceId = 2;

    // Feature bits.
    public const ulong SegMax = 1UL << 2, ReadOnly = 1UL << 5, BlkSize = 1UL << 6, Flush = 1UL << 9,
        Discard = 1UL << 13, WriteZeroes = 1UL << 14;

    // Request types.
    public const uint In = 0, Out = 1, FlushRequest = 4, GetId = 8, DiscardRequest = 11, WriteZeroesRequest = 13;

    // Status byte values.
    public const byte Ok = 0, IoErr = 1, Unsupported = 2;

    public const int HeaderSize = 16;

    /// <summary>GET_ID answers at most this many bytes.</summary>
    public const int IdLength = 20;

    /// <summary>One DISCARD/WRITE_ZEROES segment: le64 sector, le32 num_sectors, le32 flags (bit 0: unmap).</summary>
    public const int RangeSegmentSize = 16;
    public const uint RangeUnmap = 1;

    // Device configuration (struct virtio_blk_config) offsets served.
    public const int CapacityOffset = 0, SegMaxOffset = 12, BlkSizeOffset = 20, NumQueuesOffset = 34,
        MaxDiscardSectorsOffset = 36, MaxDiscardSegOffset = 40, DiscardAlignmentOffset = 44,
        MaxWriteZeroesSectorsOffset = 48, MaxWriteZeroesSegOffset = 52, WriteZeroesMayUnmapOffset = 56;
    public const int ConfigLength = 60;

    /// <summary>Largest DISCARD/WRITE_ZEROES range per segment, in sectors (1 GiB).</summary>
    public const uint MaxRangeSectors = 1u << 21;
}
