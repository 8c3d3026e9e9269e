using Umdev.Interop;
using Umdev.VfioUser.Client;

namespace Umdev.Devices.VirtioBlk.Tests;

/// <summary>
/// The test's "guest RAM": a memfd mapped here, handed to the device with DMA_MAP and its descriptor (as
/// QEMU's memory-backend-memfd); or the client's own memory mapped without one, which the device reaches
/// by DMA_READ/DMA_WRITE that the client answers.
/// </summary>
public sealed unsafe class GuestMemory : IDisposable
{
    public const ulong Base = 0x4000_0000;
    public const ulong Size = 16 << 20;

    private readonly MemoryMapping? _mapping;
    private readonly VfioUserClientMemory? _copied;

    /// <param name="seals">The memfd's seals: by default sealed against resizing, as QEMU's memory-backend-memfd.</param>
    public GuestMemory(MemFdSeals seals = MemFd.Resize)
    {
        Fd = MemFd.Create("virtio-test-ram", Size, seals);
        _mapping = MemoryMapping.Map(Fd, 0, Size, writable: true);
    }

    /// <summary>RAM in a memfd the caller made (e.g. one that cannot be sealed), at least <see cref="Size"/> bytes; disposing closes it.</summary>
    public GuestMemory(FileDescriptorHandle fd)
    {
        Fd = fd;
        _mapping = MemoryMapping.Map(fd, 0, Size, writable: true);
    }

    /// <summary>RAM the device can only copy: mapped by <paramref name="client"/> without a descriptor.</summary>
    public GuestMemory(VfioUserClient client) => _copied = client.MapMemory(Base, Size, passFd: false);

    /// <summary>The descriptor a DMA_MAP passes; null for memory mapped without one.</summary>
    public FileDescriptorHandle? Fd { get; }

    public Span<byte> At(ulong address, int length) =>
        _copied is not null ? _copied.Span.Slice((int)(address - Base), length) : new(_mapping!.Pointer + (address - Base), length);

    public void Dispose()
    {
        _mapping?.Dispose();
        Fd?.Dispose();
    }
}
