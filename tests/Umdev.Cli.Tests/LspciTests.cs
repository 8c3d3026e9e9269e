using Umdev.Guest;
using Umdev.VfioUser.Tests;

namespace Umdev.Cli.Tests;

public class LspciTests
{
    /// <summary>The guest's formatter on the config bytes of QEMU's pci-serial, as the guest's lspci printed them in the QEMU trace.</summary>
    [Fact]
    public void FormatterMatchesLspciForTheTracedCard()
    {
        byte[] config = Convert.FromHexString(
            "361b0200030100000102000700000000" +
            "61c00000000000000000000000000000" +
            "000000000000000000000000f41a0011" +
            "000000000000000000000000" + "0a010000");
        string text = LspciFormatter.Format(config, [new PciBar(0, true, 8, 0xc060)], "00:01.0");
        Assert.Equal(
            "00:01.0 Serial controller: Device 1b36:0002 (rev 01) (prog-if 02 [16550])\n" +
            "\tSubsystem: Device 1af4:1100\n" +
            "\tControl: I/O+ Mem+ BusMaster- SpecCycle- MemWINV- VGASnoop- ParErr- Stepping- SERR+ FastB2B- DisINTx-\n" +
            "\tStatus: Cap- 66MHz- UDF- FastB2B- ParErr- DEVSEL=fast >TAbort- <TAbort- <MAbort- >SERR- <PERR- INTx-\n" +
            "\tInterrupt: pin A routed to IRQ 10\n" +
            "\tRegion 0: I/O ports at c060 [size=8]\n" +
            "00: 36 1b 02 00 03 01 00 00 01 02 00 07 00 00 00 00\n" +
            "10: 61 c0 00 00 00 00 00 00 00 00 00 00 00 00 00 00\n" +
            "20: 00 00 00 00 00 00 00 00 00 00 00 00 f4 1a 00 11\n" +
            "30: 00 00 00 00 00 00 00 00 00 00 00 00 0a 01 00 00\n", text);
    }

    [Fact]
    public void LspciShowsAServedMttyThroughItsSocket()
    {
        using var served = new MttyServerFixture();
        string dir = served.Directory;
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.Equal(0, LspciCommand.Run(served.Device.Name, dir, false, output, error));
        string text = output.ToString();
        Assert.StartsWith("00:00.0 Serial controller: Device 4348:3253 (rev 10) (prog-if 02 [16550])\n", text);
        Assert.Contains("\tRegion 0: I/O ports at 0 [size=8]\n", text);
        Assert.Contains("\tRegion 1: I/O ports at 0 [size=8]\n", text);
        Assert.Contains("\n00: 48 43 53 32 ", text);
        Assert.Equal(5, text.Split('\n').Count(l => l.Length > 0 && !l.StartsWith('\t'))); // header line + 4 hex rows
        Assert.Equal(1, LspciCommand.Run(Guid.NewGuid().ToString(), dir, false, new StringWriter(), error));
        Assert.Equal(2, LspciCommand.Run("not-a-uuid", dir, false, new StringWriter(), new StringWriter()));
    }
}
