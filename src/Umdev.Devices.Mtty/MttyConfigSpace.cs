using System.Buffers.Binary;
using Umdev.Vfio;
using Umdev.Vfio.Pci;

namespace Umdev.Devices.Mtty;

/// <summary>
/// The card's PCI configuration space (mtty.md §6): a WCH CH352 serial controller with one I/O BAR
/// per port. Everything but the interrupt line and the BARs is read-only, and the BARs keep the
/// sample's own write handling (<see cref="WriteBar"/>). The model serialises accesses.
/// </summary>
internal static class MttyConfigSpace
{
    // Fix (mtty.md §13 note 11): the sample allocates and reports 255 bytes; with a size other than
    // 256 QEMU keeps the device flagged as PCI Express and reads past the region's end.
    public const int Size = PciConfigSpace.ConventionalSize;

    public const int BarSize = 8;
    private const uint BarSizingMask = unchecked((uint)-BarSize);

    // One layout per card kind, shared by every device: each device owns only its 256 bytes.
    private static readonly PciConfigLayout OnePort = Describe(1), TwoPorts = Describe(2);

    public static PciConfigLayout Of(int numPorts) => numPorts == 2 ? TwoPorts : OnePort;

    private static PciConfigLayout Describe(int numPorts)
    {
        var b = new PciConfigSpaceBuilder(Size)
            .Ids(0x4348, 0x3253)                              // WCH, CH352 2S
            .Command(PciHeader.CommandIo, writable: 0)        // I/O space on, fixed
            .Status(0x0200, writeOneToClear: 0)               // DEVSEL medium, no capability list, fixed
            .Revision(0x10)
            .ClassCode(0x07, 0x00, 0x02)                      // simple communication, serial, 16550 compatible
            .Subsystem(0x4348, 0x3253)
            .InterruptPin(1)                                  // INTA#; a write at 0x3C of any width changes only the line byte
            .IoBar(0, BarSize).Hook(PciHeader.BarOffset(0), 4, WriteBar)
            .Bytes(0x40, [0x23, 0x00, 0x00, 0x80, 0x23, 0x00, 0x00, 0x00, 0x23, 0x00, 0x00, 0x00, 0x23]) // cosmetic vendor bytes
            .Bytes(0x60, "PCI Serial/UART"u8);
        // A one-port card has no BAR1: it reads 0 whatever is written. BAR2-5 likewise.
        if (numPorts == 2) b.IoBar(1, BarSize).Hook(PciHeader.BarOffset(1), 4, WriteBar);
        return b.Build();
    }

    /// <summary>The sample's BAR write, which no bit rule expresses: it keeps address bits 2:1 and sizes only on exactly 0xFFFFFFFF.</summary>
    private static void WriteBar(PciConfigSpace space, int offset, ReadOnlySpan<byte> data)
    {
        if (offset % 4 != 0) return; // a piece inside the BAR is not "the register at this offset"
        // Fix (mtty.md §13 note 12): the sample always loads 4 bytes from the data buffer, so a 1- or
        // 2-byte write takes undefined upper bytes; here narrow writes are zero-extended.
        uint value = data.Length switch
        {
            >= 4 => BinaryPrimitives.ReadUInt32LittleEndian(data),
            >= 2 => BinaryPrimitives.ReadUInt16LittleEndian(data),
            _ => data[0],
        };
        if (value == 0xFFFFFFFF) value &= BarSizingMask;
        value |= space.ReadUInt32(offset) & 0x3; // keep the I/O space indicator (and, as the sample does, bit 1)
        space.StoreUInt32(offset, value);
    }
}
