using System.Buffers.Binary;
using System.CommandLine;
using Umdev.Core;
using Umdev.Guest;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.VfioUser;
using Umdev.VfioUser.Client;

namespace Umdev.Cli;

/// <summary><c>umdev lspci &lt;uuid&gt;</c>: an <c>lspci -vv -xx</c>-style view of a served device, read through its vfio-user socket.</summary>
public static class LspciCommand
{
    public static Command Create()
    {
        var uuid = new Argument<string>("uuid") { Description = "The mdev UUID" };
        var sockets = new Option<string>("--sockets")
        {
            Description = "Directory of the vfio-user sockets",
            DefaultValueFactory = _ => VfioUserServiceOptions.DefaultSocketDirectory,
        };
        var full = new Option<bool>("--xxx") { Description = "Dump all 256 bytes of config space (lspci -xxx)" };
        var command = new Command("lspci", "Show a served device's PCI config space as lspci -xxvv does, through its vfio-user socket");
        command.Arguments.Add(uuid);
        command.Options.Add(sockets);
        command.Options.Add(full);
        command.SetAction(r => Run(r.GetValue(uuid)!, r.GetValue(sockets)!, r.GetValue(full), Console.Out, Console.Error));
        return command;
    }

    public static int Run(string uuidText, string socketDirectory, bool full, TextWriter output, TextWriter error)
    {
        if (!MdevUuid.TryParse(uuidText, out var uuid))
        {
            error.WriteLine($"umdev lspci: '{uuidText}' is not a UUID");
            return 2;
        }
        string path = VfioUserService.SocketPathFor(socketDirectory, uuid);
        try
        {
            using var client = VfioUserClient.Connect(path);
            output.Write(Describe(client, full ? 256 : 64));
            return 0;
        }
        catch (ErrnoException e)
        {
            error.WriteLine($"umdev lspci: {path}: {e.Message}");
            return 1;
        }
    }

    /// <summary>Reads config space and BAR sizes from any device and formats them with the guest's lspci formatter.</summary>
    public static string Describe(IVfioClientDevice device, int hexBytes)
    {
        var config = new PciConfigAccess(device).ReadAll();
        var bars = new List<PciBar>();
        for (uint i = 0; i <= VfioPci.Bar5RegionIndex; i++)
        {
            var info = device.GetRegionInfo(i);
            info.MmapHandle?.Dispose(); // a mappable region's descriptor is the caller's; only the size is needed
            ulong size = info.Size;
            if (size == 0) continue; // also the upper half of a 64-bit BAR
            uint raw = BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(PciRegisters.Bar0 + 4 * (int)i));
            bool io = (raw & PciRegisters.BarIoSpace) != 0;
            bool is64 = !io && (raw & PciRegisters.BarMemTypeMask) == PciRegisters.BarMemType64;
            bars.Add(new PciBar((int)i, io, size, raw & (io ? PciRegisters.BarIoAddressMask : PciRegisters.BarMemAddressMask),
                is64, !io && (raw & PciRegisters.BarPrefetchable) != 0));
        }
        return LspciFormatter.Format(config, bars, "00:00.0", hexBytes: hexBytes);
    }
}
