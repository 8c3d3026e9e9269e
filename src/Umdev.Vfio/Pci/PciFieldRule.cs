namespace Umdev.Vfio.Pci;

/// <summary>
/// How guest writes change a field of up to 8 bytes: bits in <see cref="Writable"/> take the written
/// value, bits in <see cref="WriteOneToClear"/> are cleared where a 1 is written, the rest are read-only.
/// </summary>
public readonly record struct PciFieldRule(ulong Writable, ulong WriteOneToClear)
{
    /// <summary>Guest writes change nothing.</summary>
    public static PciFieldRule ReadOnly => default;

    /// <summary>Guest writes change the bits of <paramref name="mask"/> (all by default).</summary>
    public static PciFieldRule ReadWrite(ulong mask = ulong.MaxValue) => new(mask, 0);

    /// <summary>A 1 written to a bit of <paramref name="mask"/> clears it; nothing else changes.</summary>
    public static PciFieldRule ClearOnWriteOne(ulong mask) => new(0, mask);
}
