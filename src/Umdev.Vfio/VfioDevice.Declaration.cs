using System.Buffers.Binary;
using Umdev.Vfio.Pci;

namespace Umdev.Vfio;

public sealed partial class VfioDevice
{
    /// <summary>
    /// What the model derives from a PCI device's one declaration, its config space, and the checks that a
    /// fact declared twice is declared alike: interrupts given next to a config region must be the ones it
    /// declares (pin, MSI, MSI-X); each BAR it declares is served by a region of the BAR's size (an I/O BAR
    /// never by a mappable one) and no BAR region serves an undeclared BAR. A BAR holding only the MSI-X
    /// table and PBA, which the VMM emulates, needs no region: the model adds one that reads zeros.
    /// Returns the regions the model adds.
    /// </summary>
    private static List<VfioRegion> CheckDeclaration(VfioDeviceLayout layout)
    {
        var derivedRegions = new List<VfioRegion>();
        if (layout.ConfigRegion is not { } configRegion) return derivedRegions;
        var declared = layout.Interrupts.Spec;
        var derived = layout.DerivedInterrupts;
        if (declared.Intx != derived.Intx || declared.MsiVectors != derived.MsiVectors || declared.MsixVectors != derived.MsixVectors)
            throw new ArgumentException(
                $"the interrupts (INTx {declared.Intx}, MSI {declared.MsiVectors}, MSI-X {declared.MsixVectors}) disagree with config space " +
                $"(INTx {derived.Intx}, MSI {derived.MsiVectors}, MSI-X {derived.MsixVectors}); leave Interrupts out to derive them", nameof(layout));

        var config = configRegion.Layout;
        var regions = new VfioRegion?[PciHeader.BarCount];
        foreach (var region in layout.Regions)
            if (region.Index < PciHeader.BarCount) regions[region.Index] = region;
        var msixBars = MsiXBars(config);
        for (int index = 0; index < PciHeader.BarCount; index++)
        {
            var region = regions[index];
            if (config.FindBar(index) is { } bar)
            {
                if (region is null && msixBars.Contains(index))
                    derivedRegions.Add(new MsiXStructuresRegion((uint)index, bar.Size));
                else if (region is null || region.Size != bar.Size)
                    throw new ArgumentException($"BAR {index} is 0x{bar.Size:x} bytes in config space but its region is " +
                        (region is null ? "not declared" : $"0x{region.Size:x} bytes"), nameof(layout));
                else if (bar.IsIo && (region.Flags & VfioRegionFlags.Mmap) != 0)
                    throw new ArgumentException($"BAR {index} is an I/O BAR in config space but its region is mappable", nameof(layout));
                if (bar.Is64Bit) index++; // the upper slot of the pair is checked below as no BAR of its own
                if (bar.Is64Bit && regions[index] is { Size: > 0 })
                    throw new ArgumentException($"region {index} serves the upper half of 64-bit BAR {index - 1}", nameof(layout));
            }
            else if (region is { Size: > 0 })
            {
                throw new ArgumentException($"region {index} of 0x{region.Size:x} bytes serves no BAR declared in config space", nameof(layout));
            }
        }
        return derivedRegions;
    }

    /// <summary>The BARs the MSI-X table and PBA of <paramref name="config"/> lie in (their BIR fields).</summary>
    private static HashSet<int> MsiXBars(PciConfigLayout config)
    {
        var bars = new HashSet<int>();
        if (config.FindCapability(PciCapabilityId.MsiX) is not { } msix) return bars;
        Span<byte> bytes = stackalloc byte[8];
        config.Initial.AsSpan(msix.Offset + 4, 8).CopyTo(bytes);
        bars.Add((int)(BinaryPrimitives.ReadUInt32LittleEndian(bytes) & 0x7));
        bars.Add((int)(BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]) & 0x7));
        return bars;
    }

    /// <summary>A BAR holding only MSI-X structures: the VMM emulates them, so what reaches the device reads zeros and is ignored.</summary>
    private sealed class MsiXStructuresRegion(uint index, ulong size) : VfioRegion(index, size, VfioRegionFlags.Read | VfioRegionFlags.Write)
    {
        protected internal override void Read(ulong offset, Span<byte> data) => data.Clear();

        protected internal override void Write(ulong offset, ReadOnlySpan<byte> data) { }
    }
}
