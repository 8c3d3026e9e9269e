using Umdev.Interop;

namespace Umdev.Devices.VirtioBlk.Tests;

/// <summary>The test's "guest RAM": a memfd mapped here, handed to the device with DMA_MAP and its descriptor (as QEMU's memory-backend-memfd).</summary>
public sealed unsafe class GuestMemory : IDisposable
{
    public const ulong Base = 0x4000_0000;
    public const ulong Size = 16 << 20;

    private readonly MemoryMapping _mapping;

    public GuestMemory()
    {
        Fd = MemFd.Create("virtio-test-ram", Size);
        _mapping = MemoryMapping.Map(Fd, 0, Size, writable: true);
    }

    public FileDescriptorHandle Fd { get; }

    public Span<byte> At(ulong address, int length) => new(_mapping.Pointer + (address - Base), length);

    public void Dispose()
    {
        _mapping.Dispose();
        Fd.Dispose();
    }
}
