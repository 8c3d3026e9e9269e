namespace Umdev.Guest;

/// <summary>
/// The guest-physical ranges firmware hands out to memory BARs: one below 4 GiB for 32-bit BARs
/// (and 64-bit ones that are not prefetchable), one above for 64-bit prefetchable BARs. Ends are exclusive.
/// </summary>
public sealed record PciMemoryWindows(ulong LowBase, ulong LowEnd, ulong HighBase, ulong HighEnd)
{
    /// <summary>QEMU's pc machine with little RAM: 0xe0000000 up to the I/O APIC, and from 512 GiB as SeaBIOS's 64-bit window.</summary>
    public static PciMemoryWindows Default { get; } = new(0xe000_0000, 0xfec0_0000, 0x80_0000_0000, 0x100_0000_0000);
}
