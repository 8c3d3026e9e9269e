namespace Umdev.Virtio;

/// <summary>One buffer of a descriptor chain: guest address, length, and whether the device writes it.</summary>
/// <param name="Address">The buffer's guest address (an IOVA of the client's DMA mappings).</param>
/// <param name="Length">Its length in bytes.</param>
/// <param name="Writable">The device writes it (VIRTQ_DESC_F_WRITE); otherwise the device reads it.</param>
public readonly record struct VirtqueueBuffer(ulong Address, uint Length, bool Writable);
