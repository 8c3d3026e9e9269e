using Umdev.Interop;

namespace Umdev.Vfio;

/// <summary>
/// A driver's access in progress to a <see cref="VfioMemoryRegion"/>'s memory; dispose to end it (the
/// memory of an unregistered device is unmapped only when its last access ends).
/// </summary>
public readonly ref struct VfioMemoryAccess
{
    private readonly MemoryMappingAccess _lease;

    internal VfioMemoryAccess(MemoryMappingAccess lease, ulong offset, int length)
    {
        _lease = lease;
        Span = lease.Span(offset, length);
    }

    /// <summary>The bytes asked for; valid until the access is disposed.</summary>
    public Span<byte> Span { get; }

    public void Dispose() => _lease.Dispose();
}
