namespace Umdev.Vfio.Pci;

/// <summary>
/// A driver's own handling of guest writes to a range of config space, for quirks no
/// <see cref="PciFieldRule"/> describes. It gets the part of the write inside its range
/// (<paramref name="offset"/> is where <paramref name="data"/> starts) and changes the space itself,
/// e.g. with <see cref="PciConfigSpace.Store"/> or <see cref="PciConfigSpace.ApplyWriteRules"/>.
/// </summary>
public delegate void PciConfigWriteHook(PciConfigSpace space, int offset, ReadOnlySpan<byte> data);
