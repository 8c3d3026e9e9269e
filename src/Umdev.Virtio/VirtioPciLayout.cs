using System.Buffers.Binary;
using Umdev.Vfio.Pci;

namespace Umdev.Virtio;

/// <summary>
/// Where a virtio-pci function keeps its structures (virtio-pci.md §2, SPDK's arrangement): BAR4, 64-bit,
/// 16 KiB, with common configuration at 0x0, ISR at 0x1000, device configuration at 0x2000 and the
/// notification area at 0x3000; MSI-X table and PBA in BAR1, which QEMU emulates itself.
/// </summary>
public static class VirtioPciLayout
{
    /// <summary>PCI vendor id of every virtio device (Red Hat, Inc.).</summary>
    public const ushort VendorId = 0x1af4;

    /// <summary>Modern device ids are this plus the virtio device id.</summary>
    public const ushort ModernDeviceIdBase = 0x1040;

    /// <summary>The BAR holding the virtio structures.</summary>
    public const int StructuresBar = 4;

    /// <summary>Size of <see cref="StructuresBar"/>.</summary>
    public const int StructuresBarSize = 0x4000;

    /// <summary>The BAR holding the MSI-X table (at 0) and PBA (at <see cref="MsiXPbaOffset"/>).</summary>
    public const int MsiXBar = 1;

    /// <summary>Size of <see cref="MsiXBar"/>.</summary>
    public const int MsiXBarSize = 0x1000;

    /// <summary>Offset of the pending-bit array in <see cref="MsiXBar"/>.</summary>
    public const int MsiXPbaOffset = 0x800;

    /// <summary>Offsets of the structures in <see cref="StructuresBar"/>.</summary>
    public const int CommonOffset = 0x0, IsrOffset = 0x1000, DeviceOffset = 0x2000, NotifyOffset = 0x3000;

    /// <summary>Bytes of the common configuration structure.</summary>
    public const int CommonLength = 0x38;

    /// <summary>Bytes of the ISR structure.</summary>
    public const int IsrLength = 1;

    /// <summary>Bytes of the device configuration area (what a device may declare at most).</summary>
    public const int DeviceLength = 0x1000;

    /// <summary>A queue's doorbell is at notify base + queue_notify_off × this; queue_notify_off is the queue index.</summary>
    public const int NotifyOffMultiplier = 4;

    /// <summary>The capability cfg_type values (§4.1.4).</summary>
    public const byte CommonCfg = 1, NotifyCfg = 2, IsrCfg = 3, DeviceCfg = 4, PciCfg = 5;

    /// <summary>Bytes of the PCI configuration access capability after cap_vndr/cap_next/cap_len: the common
    /// fields (bar, offset, length: the window's target, driver-writable) and the 4-byte pci_cfg_data.</summary>
    private const int PciCfgBodyLength = 17;

    /// <summary>
    /// The PCI configuration space of a modern virtio device: ids, class, the two BARs, MSI-X for
    /// <paramref name="msixVectors"/> vectors, INTA#, and the vendor capabilities pointing into BAR4.
    /// </summary>
    /// <param name="virtioDeviceId">The virtio device id (block: 2).</param>
    /// <param name="classCode">Base class, subclass and programming interface.</param>
    /// <param name="msixVectors">MSI-X table size: one for configuration changes plus one per queue.</param>
    /// <param name="deviceConfigLength">Bytes of device configuration the device serves.</param>
    public static PciConfigLayout Describe(ushort virtioDeviceId, (byte Base, byte Sub, byte ProgIf) classCode, int msixVectors, int deviceConfigLength)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(deviceConfigLength, DeviceLength);
        var b = new PciConfigSpaceBuilder()
            .Ids(VendorId, (ushort)(ModernDeviceIdBase + virtioDeviceId))
            .Revision(1)
            .ClassCode(classCode.Base, classCode.Sub, classCode.ProgIf)
            .Subsystem(VendorId, (ushort)(0x40 + virtioDeviceId))
            .InterruptPin(1)
            .MemoryBar(MsiXBar, MsiXBarSize)
            .MemoryBar(StructuresBar, StructuresBarSize, is64Bit: true)
            .MsiX(msixVectors, MsiXBar, 0, MsiXBar, MsiXPbaOffset)
            .VendorCapability(Capability(CommonCfg, CommonOffset, CommonLength))
            .VendorCapability(Capability(NotifyCfg, NotifyOffset, 0x1000, NotifyOffMultiplier))
            .VendorCapability(Capability(IsrCfg, IsrOffset, IsrLength));
        if (deviceConfigLength > 0) b.VendorCapability(Capability(DeviceCfg, DeviceOffset, (uint)deviceConfigLength));
        // The spec's device requirement (§4.1.4.9): firmware that cannot reach the BAR uses this window.
        var window = new byte[PciCfgBodyLength];
        window[0] = PciCfg;
        b.VendorCapability(window);
        return b.Build();
    }

    /// <summary>Where the PCI configuration access capability of <paramref name="config"/> starts (-1: none).</summary>
    internal static int FindPciCfg(PciConfigSpace config)
    {
        // Bounded: a capability list of a 256-byte space holds at most 48 entries.
        for (int cap = config.ReadByte(PciHeader.CapabilityPointer) & 0xfc, n = 0; cap >= PciHeader.CapabilitiesStart && n < 48;
             cap = config.ReadByte(cap + 1) & 0xfc, n++)
            if (config.ReadByte(cap) == (byte)PciCapabilityId.VendorSpecific && config.ReadByte(cap + 3) == PciCfg) return cap;
        return -1;
    }

    /// <summary>The body of a virtio_pci_cap after cap_vndr/cap_next/cap_len (and the notify multiplier).</summary>
    private static byte[] Capability(byte cfgType, uint offset, uint length, uint? notifyMultiplier = null)
    {
        var body = new byte[notifyMultiplier is null ? 13 : 17];
        body[0] = cfgType;
        body[1] = StructuresBar;
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(5), offset);
        BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(9), length);
        if (notifyMultiplier is uint m) BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(13), m);
        return body;
    }
}
