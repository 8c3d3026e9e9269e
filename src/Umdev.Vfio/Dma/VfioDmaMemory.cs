namespace Umdev.Vfio;

/// <summary>Access rights of a client DMA mapping (<c>VFIO_DMA_MAP_FLAG_READ/WRITE</c>).</summary>
[Flags]
public enum VfioDmaProtection : uint
{
    None = 0,
    /// <summary>The device may read this memory.</summary>
    Read = 0x1,
    /// <summary>The device may write this memory.</summary>
    Write = 0x2,
}

/// <summary>Which way data moves in a driver's DMA (the kernel's IOMMU_READ/IOMMU_WRITE <c>prot</c>).</summary>
[Flags]
public enum VfioDmaDirection
{
    /// <summary>The device reads client memory.</summary>
    ToDevice = 1,
    /// <summary>The device writes client memory.</summary>
    FromDevice = 2,
    Bidirectional = ToDevice | FromDevice,
}

/// <summary>
/// The memory behind one client mapping, addressed from the mapping's start: either mapped into this
/// process (<see cref="Direct"/> non-null) or reachable only by copies (vfio-user DMA_READ/DMA_WRITE).
/// Disposing releases it (munmap, close).
/// </summary>
public abstract class VfioDmaMemory : IDisposable
{
    /// <summary>The mapped bytes, or null when the memory can only be copied.</summary>
    public virtual unsafe byte* Direct => null;

    public abstract void Read(ulong offset, Span<byte> destination);

    public abstract void Write(ulong offset, ReadOnlySpan<byte> source);

    public abstract void Dispose();
}

/// <summary>Client memory mapped into this process.</summary>
public sealed unsafe class MappedDmaMemory(Interop.MemoryMapping mapping) : VfioDmaMemory
{
    public override byte* Direct => mapping.Pointer;

    public override void Read(ulong offset, Span<byte> destination) =>
        new ReadOnlySpan<byte>(mapping.Pointer + offset, destination.Length).CopyTo(destination);

    public override void Write(ulong offset, ReadOnlySpan<byte> source) =>
        source.CopyTo(new Span<byte>(mapping.Pointer + offset, source.Length));

    public override void Dispose() => mapping.Dispose();
}

/// <summary>
/// What a vendor driver implements to learn that the client unmapped a range (the kernel's
/// <c>dma_unmap</c> callback): drop every pin inside it before returning. Drivers that pin must implement it.
/// </summary>
public interface IVfioDmaUnmapListener
{
    void DmaUnmap(ulong iova, ulong length);
}
