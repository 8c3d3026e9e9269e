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

/// <summary>
/// A driver's own handling of guest writes to a range of config space, for quirks no
/// <see cref="PciFieldRule"/> describes. It gets the part of the write inside its range
/// (<paramref name="offset"/> is where <paramref name="data"/> starts) and changes the space itself,
/// e.g. with <see cref="PciConfigSpace.Store"/> or <see cref="PciConfigSpace.ApplyWriteRules"/>.
/// </summary>
public delegate void PciConfigWriteHook(PciConfigSpace space, int offset, ReadOnlySpan<byte> data);
