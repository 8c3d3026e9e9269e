namespace Umdev.Vfio.Pci;

/// <summary>Capability ids of the conventional capability list that the builder can place.</summary>
public enum PciCapabilityId : byte
{
    /// <summary>Message Signalled Interrupts.</summary>
    Msi = 0x05,
    /// <summary>Vendor-specific data.</summary>
    VendorSpecific = 0x09,
    /// <summary>MSI-X.</summary>
    MsiX = 0x11,
}

/// <summary>A capability as placed in config space: its id, offset and length in bytes.</summary>
public readonly record struct PciCapability(PciCapabilityId Id, int Offset, int Length);
