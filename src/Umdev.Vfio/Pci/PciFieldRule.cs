namespace Umdev.Vfio.Pci;

/// <summary>
/// How guest writes change a field of up to 8 bytes: bits in <see cref="Writable"/> take the written
/// value, bits in <see cref="WriteOneToClear"/> are cleared where a 1 is written, the rest are read-only.
/// </summary>
public readonly record struct PciFieldRule(ulong Writable, ulong WriteOneToClear)
{
    public static PciFieldRule ReadOnly => default;

    public static PciFieldRule ReadWrite(ulong mask = ulong.MaxValue) => new(mask, 0);

    public static PciFieldRule ClearOnWriteOne(ulong mask) => new(0, mask);
}
