using Umdev.Interop;

namespace Umdev.Guest;

/// <summary>
/// What a VM's firmware does to a PCI function before the OS runs: size every BAR by writing all ones
/// and reading back (both slots of a 64-bit BAR), assign I/O BARs from the given bases and memory BARs
/// from the memory windows, route the interrupt, enable decoding of what it assigned.
/// </summary>
public static class PciFirmware
{
    /// <summary>I/O addresses the kernel documentation's guest shows for the mtty ports.</summary>
    public static readonly IReadOnlyList<ulong> DocumentedIoBases = [0xc150, 0xc158];

    public const byte DocumentedInterruptLine = 10;

    public static PciFunction Configure(PciConfigAccess config, IReadOnlyList<ulong> ioBases, byte interruptLine, PciMemoryWindows? memory = null)
    {
        memory ??= PciMemoryWindows.Default;
        ushort vendor = config.Read16(PciRegisters.VendorId);
        if (vendor == 0xffff) ThrowHelper.Throw(Errno.ENODEV, "no PCI function (vendor id 0xffff)");
        ushort device = config.Read16(PciRegisters.DeviceId);
        uint classCode = config.Read32(PciRegisters.Revision) >> 8;

        var bars = new List<PciBar>();
        for (int i = 0; i < PciRegisters.BarCount; i++)
        {
            var bar = Size(config, i);
            if (bar is null) continue;
            bars.Add(bar.Value);
            if (bar.Value.Is64Bit) i++; // the upper half is no BAR of its own
        }

        int nextIo = 0;
        bool ioAssigned = false, memoryAssigned = false;
        for (int n = 0; n < bars.Count; n++)
        {
            if (!bars[n].IsIo || nextIo >= ioBases.Count) continue;
            bars[n] = Program(config, bars[n], ioBases[nextIo++]);
            ioAssigned = true;
        }
        ulong low = memory.LowBase, high = memory.HighBase;
        // Largest first, as SeaBIOS does, so natural alignment wastes nothing between BARs.
        foreach (int n in Enumerable.Range(0, bars.Count).Where(n => !bars[n].IsIo).OrderByDescending(n => bars[n].Size).ToList())
        {
            bool above4G = bars[n].Is64Bit && bars[n].IsPrefetchable;
            ref ulong next = ref above4G ? ref high : ref low;
            ulong address = AlignUp(next, bars[n].Size);
            if (address + bars[n].Size > (above4G ? memory.HighEnd : memory.LowEnd) || address < next) continue; // no room: unassigned
            bars[n] = Program(config, bars[n], address);
            next = address + bars[n].Size;
            memoryAssigned = true;
        }

        config.Write8(PciRegisters.InterruptLine, interruptLine);
        ushort command = config.Read16(PciRegisters.Command);
        if (ioAssigned) command |= PciRegisters.CommandIo;
        if (memoryAssigned) command |= PciRegisters.CommandMemory;
        config.Write16(PciRegisters.Command, command);
        byte pin = config.Read8(PciRegisters.InterruptPin);
        return new PciFunction(vendor, device, classCode, bars, config.Read8(PciRegisters.InterruptLine), pin);
    }

    /// <summary>Sizes BAR <paramref name="index"/> and restores it; null if it is not implemented.</summary>
    private static PciBar? Size(PciConfigAccess config, int index)
    {
        int offset = PciRegisters.Bar0 + 4 * index;
        uint probe = Probe(config, offset);
        if (probe == 0) return null;
        if ((probe & PciRegisters.BarIoSpace) != 0)
        {
            uint ioSize = ~(probe & PciRegisters.BarIoAddressMask) + 1;
            return new PciBar(index, true, ioSize & 0xffff, 0); // I/O BARs decode 16 address bits on x86
        }
        bool is64 = (probe & PciRegisters.BarMemTypeMask) == PciRegisters.BarMemType64 && index + 1 < PciRegisters.BarCount;
        ulong mask = probe & PciRegisters.BarMemAddressMask;
        mask |= is64 ? (ulong)Probe(config, offset + 4) << 32 : 0xffff_ffff_0000_0000;
        ulong size = ~mask + 1;
        if (size == 0) return null; // no address bit responds
        return new PciBar(index, false, size, 0, is64, (probe & PciRegisters.BarPrefetchable) != 0);
    }

    /// <summary>Writes all ones, reads back what sticks, and puts the original value back.</summary>
    private static uint Probe(PciConfigAccess config, int offset)
    {
        uint original = config.Read32(offset);
        config.Write32(offset, 0xffffffff);
        uint probe = config.Read32(offset);
        config.Write32(offset, original);
        return probe;
    }

    private static PciBar Program(PciConfigAccess config, PciBar bar, ulong address)
    {
        int offset = PciRegisters.Bar0 + 4 * bar.Index;
        config.Write32(offset, (uint)address);
        if (bar.Is64Bit) config.Write32(offset + 4, (uint)(address >> 32));
        return bar with { Address = address };
    }

    private static ulong AlignUp(ulong value, ulong alignment) => (value + alignment - 1) & ~(alignment - 1);
}
