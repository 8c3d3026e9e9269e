using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.VfioUser.Client;

/// <summary>
/// Client memory offered to the device for DMA: a memfd mapped locally. Passed to the server as a
/// descriptor (the server maps it) or, without one, served by the client through DMA_READ/DMA_WRITE.
/// </summary>
public sealed unsafe class VfioUserClientMemory : IDisposable
{
    private readonly FileDescriptorHandle _memfd;
    private readonly MemoryMapping _mapping;

    internal VfioUserClientMemory(ulong iova, ulong size, VfioDmaProtection protection)
    {
        Iova = iova;
        Size = size;
        Protection = protection;
        _memfd = MemFd.Create("umdev-dma", size);
        try { _mapping = MemoryMapping.Map(_memfd, 0, size, writable: true); }
        catch
        {
            _memfd.Dispose();
            throw;
        }
    }

    public ulong Iova { get; }
    public ulong Size { get; }
    public VfioDmaProtection Protection { get; }

    internal FileDescriptorHandle Fd => _memfd;

    /// <summary>The memory, as the device sees it at <see cref="Iova"/>.</summary>
    public Span<byte> Span => new(_mapping.Pointer, checked((int)Size));

    internal bool Covers(ulong address, ulong count) =>
        address >= Iova && count <= Size && address - Iova <= Size - count;

    internal Span<byte> Slice(ulong address, int count) => new(_mapping.Pointer + (address - Iova), count);

    public void Dispose()
    {
        _mapping.Dispose();
        _memfd.Dispose();
    }
}
