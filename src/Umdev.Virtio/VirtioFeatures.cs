namespace Umdev.Virtio;

/// <summary>Feature bits every virtio device may offer (device-independent, VIRTIO 1.2 §6).</summary>
public static class VirtioFeatures
{
    /// <summary>Descriptors may point to tables of descriptors (§2.7.5.3).</summary>
    public const ulong RingIndirectDesc = 1UL << 28;

    /// <summary>used_event/avail_event suppress notifications by index (§2.7.7, §2.7.10).</summary>
    public const ulong RingEventIdx = 1UL << 29;

    /// <summary>The modern interface (mandatory for a modern device).</summary>
    public const ulong Version1 = 1UL << 32;

    /// <summary>What the transport itself offers on behalf of every device.</summary>
    public const ulong Transport = RingIndirectDesc | RingEventIdx | Version1;
}
