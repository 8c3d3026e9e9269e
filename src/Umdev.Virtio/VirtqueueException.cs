namespace Umdev.Virtio;

/// <summary>
/// The driver broke the virtqueue rules (a descriptor loop, an index past the queue, a malformed
/// indirect table, a buffer outside its mappings…): the device stops using its queues and sets
/// DEVICE_NEEDS_RESET, as VIRTIO 1.2 §2.1.2 allows, rather than act on the request.
/// </summary>
public sealed class VirtqueueException(string message, Exception? inner = null) : Exception(message, inner);
