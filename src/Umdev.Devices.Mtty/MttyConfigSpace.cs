using System.Buffers.Binary;

namespace Umdev.Devices.Mtty;

/// <summary>
/// The card's PCI configuration space (mtty.md §6): a WCH CH352 serial controller with one I/O BAR
/// per port. Not thread-safe: the device lock serialises every access.
/// </summary>
internal sealed class MttyConfigSpace
{
    // Fix (mtty.md §13 note 11): the sample allocates and reports 255 bytes; with a size other than
    // 256 QEMU keeps the device flagged as PCI Express and reads past the region's end.
    public const int Size = 256;

    public const int BarSize = 8;
    private const uint BarSizingMask = unchecked((uint)-BarSize);
    private const int Bar0 = 0x10, Bar1 = 0x14;

    private readonly byte[] _image = new byte[Size];
    private readonly int _numPorts;

    public MttyConfigSpace(int numPorts)
    {
        _numPorts = numPorts;
        var c = _image.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(c, 0x32534348);       // vendor 0x4348 (WCH), device 0x3253 (CH352 2S)
        BinaryPrimitives.WriteUInt16LittleEndian(c[0x04..], 0x0001);   // command: I/O space on
        BinaryPrimitives.WriteUInt16LittleEndian(c[0x06..], 0x0200);   // status: DEVSEL medium, no capability list
        c[0x08] = 0x10;                                                // revision
        c[0x09] = 0x02;                                                // prog-if: 16550 compatible
        c[0x0A] = 0x00;                                                // subclass: serial
        c[0x0B] = 0x07;                                                // class: simple communication controller
        BinaryPrimitives.WriteUInt32LittleEndian(c[Bar0..], 0x1);      // BAR0: I/O
        if (numPorts == 2) BinaryPrimitives.WriteUInt32LittleEndian(c[Bar1..], 0x1);
        BinaryPrimitives.WriteUInt32LittleEndian(c[0x2C..], 0x32534348); // subsystem vendor/device
        c[0x34] = 0x00;                                                // no capabilities
        c[0x3D] = 0x01;                                                // interrupt pin INTA#
        c[0x40] = 0x23; c[0x43] = 0x80; c[0x44] = 0x23; c[0x48] = 0x23; c[0x4C] = 0x23; // cosmetic vendor bytes
        "PCI Serial/UART"u8.CopyTo(c[0x60..]);
    }

    /// <summary>Copies bytes of the image; the caller has checked the range lies inside <see cref="Size"/>.</summary>
    public void Read(int offset, Span<byte> destination) => _image.AsSpan(offset, destination.Length).CopyTo(destination);

    /// <summary>
    /// One (already split) write. Only the register starting exactly at <paramref name="offset"/> is
    /// considered, as in the sample; unhandled offsets are ignored.
    /// </summary>
    public void Write(int offset, ReadOnlySpan<byte> data)
    {
        switch (offset)
        {
            case 0x3C:
                _image[0x3C] = data[0]; // interrupt line, from the first byte whatever the width
                break;
            case Bar0 or Bar1:
                WriteBar(offset, data);
                break;
            case 0x18 or 0x1C or 0x20:
                BinaryPrimitives.WriteUInt32LittleEndian(_image.AsSpan(offset), 0); // BAR2-4 do not exist
                break;
            default:
                break; // command, status, pin, BAR5, ROM and everything else are read-only here
        }
    }

    private void WriteBar(int offset, ReadOnlySpan<byte> data)
    {
        var slot = _image.AsSpan(offset, 4);
        if (_numPorts == 1 && offset == Bar1)
        {
            slot.Clear();
            return;
        }
        // Fix (mtty.md §13 note 12): the sample always loads 4 bytes from the data buffer, so a 1- or
        // 2-byte write takes undefined upper bytes; here narrow writes are zero-extended.
        uint value = data.Length switch
        {
            >= 4 => BinaryPrimitives.ReadUInt32LittleEndian(data),
            >= 2 => BinaryPrimitives.ReadUInt16LittleEndian(data),
            _ => data[0],
        };
        if (value == 0xFFFFFFFF) value &= BarSizingMask;
        value |= (uint)(slot[0] & 0x3); // keep the I/O space indicator
        BinaryPrimitives.WriteUInt32LittleEndian(slot, value);
    }
}
