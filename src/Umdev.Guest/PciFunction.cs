namespace Umdev.Guest;

/// <summary>
/// One BAR as firmware found and programmed it: <see cref="Index"/> is the low slot of a 64-bit pair;
/// <see cref="Address"/> is 0 when firmware left it unassigned.
/// </summary>
public readonly record struct PciBar(int Index, bool IsIo, ulong Size, ulong Address, bool Is64Bit = false, bool IsPrefetchable = false);

/// <summary>What firmware learned and set up for a function: identity, BARs and its interrupt line.</summary>
public sealed record PciFunction(ushort VendorId, ushort DeviceId, uint ClassCode, IReadOnlyList<PciBar> Bars, byte InterruptLine, byte InterruptPin);
