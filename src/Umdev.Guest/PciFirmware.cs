using Umdev.Interop;

namespace Umdev.Guest;

/// <summary>
/// What a VM's firmware does to a PCI function before the OS runs: size every BAR by writing all ones
/// and reading back, assign addresses from the I/O window, route the interrupt, enable decoding.
/// </summary>
public static class PciFirmware
{
    /// <summary>I/O addresses the kernel documentation's guest shows for the mtty ports.</summary>
    public static readonly IReadOnlyList<uint> DocumentedIoBases = [0xc150, 0xc158];

    public const byte DocumentedInterruptLine = 10;

    public static PciFunction Configure(PciConfigAccess config, IReadOnlyList<uint> ioBases, byte interruptLine)
    {
        ushort vendor = config.Read16(PciRegisters.VendorId);
        if (vendor == 0xffff) ThrowHelper.Throw(Errno.ENODEV, "no PCI function (vendor id 0xffff)");
        ushort device = config.Read16(PciRegisters.DeviceId);
        uint classCode = config.Read32(PciRegisters.Revision) >> 8;

        var bars = new List<PciBar>();
        int nextIo = 0;
        for (int i = 0; i < PciRegisters.BarCount; i++)
        {
            int offset = PciRegisters.Bar0 + 4 * i;
            uint original = config.Read32(offset);
            config.Write32(offset, 0xffffffff);
            uint probe = config.Read32(offset);
            config.Write32(offset, original);
            if (probe == 0) continue; // not implemented
            bool io = (probe & PciRegisters.BarIoSpace) != 0;
            uint mask = io ? PciRegisters.BarIoAddressMask : PciRegisters.BarMemAddressMask;
            uint size = ~(probe & mask) + 1;
            if (io) size &= 0xffff; // I/O BARs decode 16 address bits on x86
            uint address = 0;
            if (io && nextIo < ioBases.Count)
            {
                address = ioBases[nextIo++];
                config.Write32(offset, address);
            }
            bars.Add(new PciBar(i, io, size, address));
        }

        config.Write8(PciRegisters.InterruptLine, interruptLine);
        ushort command = config.Read16(PciRegisters.Command);
        config.Write16(PciRegisters.Command, (ushort)(command | PciRegisters.CommandIo));
        byte pin = config.Read8(PciRegisters.InterruptPin);
        return new PciFunction(vendor, device, classCode, bars, config.Read8(PciRegisters.InterruptLine), pin);
    }
}
