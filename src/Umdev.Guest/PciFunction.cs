namespace Umdev.Guest;

/// <summary>One BAR as firmware found and programmed it.</summary>
public readonly record struct PciBar(int Index, bool IsIo, uint Size, uint Address);

/// <summary>What firmware learned and set up for a function: identity, BARs and its interrupt line.</summary>
public sealed record PciFunction(ushort VendorId, ushort DeviceId, uint ClassCode, IReadOnlyList<PciBar> Bars, byte InterruptLine, byte InterruptPin);
