namespace Umdev.Vfio.Pci;

/// <summary>What a BAR decodes: I/O ports, or memory with a 32-bit or a 64-bit (two-slot) address.</summary>
public enum PciBarKind
{
    /// <summary>An I/O space BAR.</summary>
    Io,
    /// <summary>A 32-bit memory BAR.</summary>
    Memory32,
    /// <summary>A 64-bit memory BAR (two slots).</summary>
    Memory64,
}

/// <summary>
/// A BAR a device declares: its index (the low slot of a 64-bit pair), what it decodes and its size,
/// a power of two.
/// </summary>
public readonly record struct PciBarDefinition(int Index, PciBarKind Kind, ulong Size, bool Prefetchable = false)
{
    /// <summary>An I/O BAR.</summary>
    public bool IsIo => Kind == PciBarKind.Io;
    /// <summary>A memory BAR, 32- or 64-bit.</summary>
    public bool IsMemory => Kind != PciBarKind.Io;
    /// <summary>A 64-bit memory BAR, using slot Index + 1 too.</summary>
    public bool Is64Bit => Kind == PciBarKind.Memory64;

    /// <summary>The type bits of the BAR's low dword, which no write changes.</summary>
    public uint TypeBits => Kind switch
    {
        PciBarKind.Io => PciHeader.BarIoSpace,
        PciBarKind.Memory64 => PciHeader.BarMemory64 | (Prefetchable ? PciHeader.BarPrefetchable : 0),
        _ => Prefetchable ? PciHeader.BarPrefetchable : 0,
    };
}
