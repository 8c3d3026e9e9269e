using Umdev.Vfio.Pci;

namespace Umdev.Guest.Tests;

/// <summary><c>lspci -vv -xx</c> text for memory BARs and capabilities (pciutils' lspci.c and ls-caps.c formats).</summary>
public class LspciFormatterTests
{
    private static string Boot(PciConfigLayout layout, IReadOnlyList<ulong> ioBases, byte irq, out PciTestDevice device)
    {
        device = new PciTestDevice(layout);
        var config = new PciConfigAccess(device);
        var function = PciFirmware.Configure(config, ioBases, irq);
        return LspciFormatter.Format(config.ReadAll(), function.Bars);
    }

    [Fact]
    public void Memory_bars_io_bar_and_msix_print_as_lspci_does()
    {
        string text = Boot(FirmwareTests.ThreeBars(), [0xc000], 11, out _);
        Assert.Equal(
            "00:05.0 Unassigned class: Device 1b36:0005 (rev 01)\n" +
            "\tSubsystem: Device 1af4:1100\n" +
            "\tControl: I/O+ Mem+ BusMaster- SpecCycle- MemWINV- VGASnoop- ParErr- Stepping- SERR- FastB2B- DisINTx-\n" +
            "\tStatus: Cap+ 66MHz- UDF- FastB2B- ParErr- DEVSEL=fast >TAbort- <TAbort- <MAbort- >SERR- <PERR- INTx-\n" +
            "\tInterrupt: pin A routed to IRQ 11\n" +
            "\tRegion 0: Memory at 8000000000 (64-bit, prefetchable) [size=16M]\n" +
            "\tRegion 2: Memory at e0000000 (32-bit, non-prefetchable) [size=16K]\n" +
            "\tRegion 4: I/O ports at c000 [size=32]\n" +
            "\tCapabilities: [40] MSI-X: Enable- Count=4 Masked-\n" +
            "\t\tVector table: BAR=2 offset=00002000\n" +
            "\t\tPBA: BAR=2 offset=00003000\n" +
            "\tCapabilities: [4c] Vendor Specific Information: Len=08 <?>\n" +
            "00: 36 1b 05 00 03 00 10 00 01 00 00 ff 00 00 00 00\n" +
            "10: 0c 00 00 00 80 00 00 00 00 00 00 e0 00 00 00 00\n" +
            "20: 01 c0 00 00 00 00 00 00 00 00 00 00 f4 1a 00 11\n" +
            "30: 00 00 00 00 40 00 00 00 00 00 00 00 0b 01 00 00\n", text);
    }

    [Fact]
    public void MsiX_enable_and_mask_show_once_the_guest_sets_them()
    {
        Boot(FirmwareTests.ThreeBars(), [0xc000], 11, out var device);
        device.Config.Write(0x42, [0x03, 0xc0]);
        string text = LspciFormatter.Format(new PciConfigAccess(device).ReadAll(), []);
        Assert.Contains("\tCapabilities: [40] MSI-X: Enable+ Count=4 Masked+\n", text);
    }

    [Fact]
    public void Msi_prints_counts_flags_address_data_and_masking()
    {
        var layout = new PciConfigSpaceBuilder().Ids(1, 2).Msi(vectors: 4, is64Bit: true, perVectorMasking: true).Msi(vectors: 1, is64Bit: false).Build();
        var device = new PciTestDevice(layout);
        device.Config.Write(0x42, [0x11, 0x00]);                                   // enable, 2 vectors
        device.Config.Write(0x44, [0x00, 0x10, 0xe0, 0xfe, 0x01, 0x00, 0x00, 0x00, 0x41, 0x40]);
        device.Config.Write(0x50, [0x02, 0x00, 0x00, 0x00]);
        string text = LspciFormatter.Format(new PciConfigAccess(device).ReadAll(), []);
        Assert.Contains(
            "\tCapabilities: [40] MSI: Enable+ Count=2/4 Maskable+ 64bit+\n" +
            "\t\tAddress: 00000001fee01000  Data: 4041\n" +
            "\t\tMasking: 00000002  Pending: 00000000\n" +
            "\tCapabilities: [58] MSI: Enable- Count=1/1 Maskable- 64bit-\n" +
            "\t\tAddress: 00000000  Data: 0000\n" +
            "00: ", text);
    }

    [Fact]
    public void Unassigned_memory_bar_of_a_device_with_decoding_off()
    {
        var layout = new PciConfigSpaceBuilder().Ids(1, 2).MemoryBar(0, 1 << 20).MemoryBar(1, 4UL << 30, is64Bit: true).Build();
        var config = new PciConfigAccess(new PciTestDevice(layout)).ReadAll();
        string text = LspciFormatter.Format(config, [new PciBar(0, false, 1 << 20, 0), new PciBar(1, false, 4UL << 30, 0, true)]);
        Assert.Contains(
            "\tRegion 0: Memory at <unassigned> (32-bit, non-prefetchable) [disabled] [size=1M]\n" +
            "\tRegion 1: Memory at <unassigned> (64-bit, non-prefetchable) [disabled] [size=4G]\n", text);
    }

    [Fact]
    public void Virtio_vendor_capabilities_are_decoded_as_lspci_does_for_virtio_devices()
    {
        byte[] common = [0x01, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00];
        byte[] notify = [0x02, 0x04, 0x00, 0x00, 0x00, 0x00, 0x30, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00];
        var layout = new PciConfigSpaceBuilder().Ids(0x1af4, 0x1042).IoBar(4, 32)
            .VendorCapability(common).VendorCapability(notify).Build();
        string text = LspciFormatter.Format(new PciConfigAccess(new PciTestDevice(layout)).ReadAll(), []);
        Assert.Contains(
            "\tCapabilities: [40] Vendor Specific Information: VirtIO: CommonCfg\n" +
            "\t\tBAR=4 offset=00000000 size=00001000\n" +
            "\tCapabilities: [50] Vendor Specific Information: VirtIO: Notify\n" +
            "\t\tBAR=4 offset=00003000 size=00001000 multiplier=00000004\n", text);
        // The same bytes on another vendor's device are not decoded.
        var other = new PciConfigSpaceBuilder().Ids(0x1234, 0x1042).VendorCapability(common).Build();
        Assert.Contains("\tCapabilities: [40] Vendor Specific Information: Len=10 <?>\n",
            LspciFormatter.Format(new PciConfigAccess(new PciTestDevice(other)).ReadAll(), []));
    }

    [Fact]
    public void A_looping_capability_chain_is_reported_once()
    {
        var layout = new PciConfigSpaceBuilder().Ids(1, 2).VendorCapability([0x00]).Build();
        var device = new PciTestDevice(layout);
        device.Config.Store(0x41, [0x40]); // next points back at itself
        string text = LspciFormatter.Format(new PciConfigAccess(device).ReadAll(), []);
        Assert.Contains("\tCapabilities: [40] Vendor Specific Information: Len=04 <?>\n\tCapabilities: [40] <chain looped>\n", text);
    }
}
