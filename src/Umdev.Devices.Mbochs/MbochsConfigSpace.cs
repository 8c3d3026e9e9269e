using Umdev.Vfio;
using Umdev.Vfio.Pci;

namespace Umdev.Devices.Mbochs;

/// <summary>
/// The device's PCI configuration space (mbochs.md §1.2, the sample's <c>mbochs_create_config_space</c>):
/// a QEMU stdvga-like display controller with the video memory at BAR0 and the registers at BAR2. Only
/// the BARs take writes, as in the sample.
/// </summary>
internal static class MbochsConfigSpace
{
    // Fix, as mtty's (mtty.md §13 note 11): the sample reports 0xff bytes; with a size other than 256
    // QEMU keeps the device flagged as PCI Express and reads past the region's end.
    public const int Size = PciConfigSpace.ConventionalSize;

    public const ushort VendorId = 0x1234, DeviceId = 0x1111;

    // One layout per type, shared by every device of it.
    private static readonly Dictionary<MbochsType, PciConfigLayout> Layouts =
        MbochsType.All.ToDictionary(t => t, t => Describe(t.MemorySize));

    public static PciConfigLayout Of(MbochsType type) => Layouts[type];

    private static PciConfigLayout Describe(ulong memorySize) =>
        new PciConfigSpaceBuilder(Size)
            .Ids(VendorId, DeviceId)
            .Subsystem(0x1af4, 0x1100)                                     // Red Hat/Qumranet, QEMU
            .Command(PciHeader.CommandIo | PciHeader.CommandMemory, writable: 0)
            .Status(0, writeOneToClear: 0)                                 // no capability list
            .ClassCode(0x03, 0x80)                                         // display controller, other
            .Revision(1)                                                   // < 2: bochs-drm skips the QEMU extension registers
            .MemoryBar(0, memorySize, is64Bit: false, prefetchable: true)  // video memory
            .MemoryBar(2, MbochsDevice.MmioSize)                           // registers
            .Rule(PciHeader.InterruptLine, 1, PciFieldRule.ReadOnly)       // no interrupt: the sample stores nothing there
            .Build();
}
