using System.CommandLine;
using System.Text;
using Umdev.Core;
using Umdev.Devices.Mtty;
using Umdev.Guest;
using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.Cli;

/// <summary>
/// <c>umdev demo</c>: the kernel documentation's mtty walkthrough (samples/vfio-mdev/README.rst) end to
/// end — types, create, IOMMU group, the guest's lspci and 8250 probe, a loopback through every port,
/// remove — with a check at each step. Exits 1 if any check fails, so it doubles as a smoke test.
/// </summary>
public static partial class DemoCommand
{
    public const string DemoUuid = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001";
    private const string ParentPath = "/sys/devices/virtual/mtty/mtty";

    /// <summary>The first four hex lines of the guest's <c>lspci -xxvv</c> in the kernel documentation.</summary>
    public static readonly string[] DocumentedConfigDump =
    [
        "00: 48 43 53 32 01 00 00 02 10 02 00 07 00 00 00 00",
        "10: 51 c1 00 00 59 c1 00 00 00 00 00 00 00 00 00 00",
        "20: 00 00 00 00 00 00 00 00 00 00 00 00 48 43 53 32",
        "30: 00 00 00 00 00 00 00 00 00 00 00 00 0a 01 00 00",
    ];

    public static Command Create()
    {
        var command = new Command("demo", "Replay the kernel's mtty walkthrough end to end; exits non-zero if any check fails");
        command.SetAction(_ => Run(Console.Out));
        return command;
    }

    public static int Run(TextWriter output)
    {
        var report = new DemoReport(output);
        try
        {
            Walkthrough(report);
        }
        catch (ErrnoException e)
        {
            report.Check(false, $"unexpected error: {e.Message} ({e.Errno})");
        }
        return report.Finish();
    }

    private static void Walkthrough(DemoReport report)
    {
        var core = new MdevCore();
        var parent = Mtty.Register(core);
        report.Line("umdev demo — the mtty sample of the kernel documentation, in user space");
        report.Line();

        report.Shell($"ls {ParentPath}/mdev_supported_types");
        PrintTypes(report, parent);
        var mtty1 = parent.FindType("mtty-1")!;
        var mtty2 = parent.FindType("mtty-2")!;
        report.Equal(24, mtty1.AvailableInstances, "mtty-1 offers 24 instances");
        report.Equal(12, mtty2.AvailableInstances, "mtty-2 offers 12 instances");

        report.Line();
        report.Shell($"echo \"{DemoUuid}\" > {ParentPath}/mdev_supported_types/mtty-2/create");
        var mdev = core.Create(mtty2, Encoding.ASCII.GetBytes(DemoUuid + "\n"));
        report.Equal(DemoUuid, mdev.Name, "device created under its lowercase UUID");
        report.Equal(11, mtty2.AvailableInstances, "mtty-2 available_instances drops to 11");
        report.Shell($"readlink /sys/bus/mdev/devices/{DemoUuid}/iommu_group");
        report.Line($"../../../../../kernel/iommu_groups/{mdev.IommuGroup}");
        report.Check(mdev.IommuGroup >= 0, $"device has its own IOMMU group ({mdev.IommuGroup})");

        report.Line();
        report.Line($"-- a guest boots with the device (the VFIO device file of {DemoUuid}) --");
        using (var device = VfioDevice.Open(core, DemoUuid))
            GuestSession(report, device);

        report.Line();
        report.Shell($"echo 1 > /sys/bus/mdev/devices/{DemoUuid}/remove");
        core.RemoveWrite(mdev, "1\n"u8);
        report.Check(core.FindDevice(DemoUuid) is null, "device removed");
        report.Shell($"cat {ParentPath}/mdev_supported_types/mtty-2/available_instances");
        report.Line(mtty2.AvailableInstances.ToString());
        report.Equal(12, mtty2.AvailableInstances, "mtty-2 available_instances restored to 12");
    }

    private static void GuestSession(DemoReport report, IVfioClientDevice device)
    {
        var guest = SerialCardGuest.Boot(device);
        foreach (var port in guest.Ports) report.Guest($"0000:00:05.0: {port}");
        report.Equal(2, guest.Ports.Count, "8250_pci finds two ports");
        report.Check(guest.Ports.All(p => p.Type == "16550A"), "both ports are 16550A");
        report.Check(guest.Ports.Select(p => p.Bar.Address).SequenceEqual(PciFirmware.DocumentedIoBases.Select(a => a)),
            "ports at I/O 0xc150 and 0xc158");

        report.Guest("# lspci -s 00:05.0 -xxvv");
        string lspci = guest.Lspci();
        report.Guest(lspci);
        var hex = lspci.Split('\n').Where(l => HexDumpLine().IsMatch(l)).ToArray();
        report.Check(hex.SequenceEqual(DocumentedConfigDump), "config dump equals the kernel documentation's guest dump");
        report.Check(lspci.StartsWith("00:05.0 Serial controller: Device 4348:3253 (rev 10) (prog-if 02 [16550])"),
            "lspci identifies the WCH CH352 16550 serial controller");

        var result = guest.Loopback(p => Encoding.ASCII.GetBytes($"Hello from {p.Name}: umdev loops this line back through the UART FIFO!"));
        foreach (var port in guest.Ports)
        {
            string sent = Encoding.ASCII.GetString(result.Sent[port]);
            string got = Encoding.ASCII.GetString(result.Received[port]);
            report.Guest($"# echo '{sent}' > /dev/{port.Name}; cat /dev/{port.Name}");
            report.Guest(got);
            report.Check(sent == got, $"{port.Name}: {sent.Length} bytes looped back");
        }
        report.Line($"  ({result.Interrupts} INTx interrupts, each unmasked after servicing)");
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[0-9a-f]{2}:( [0-9a-f]{2})+$")]
    private static partial System.Text.RegularExpressions.Regex HexDumpLine();

    private static void PrintTypes(DemoReport report, MdevParent parent)
    {
        foreach (var type in parent.Types)
        {
            report.Line($"{type.Id}/");
            report.Line($"  name:                {type.Name}");
            report.Line($"  device_api:          {type.DeviceApi}");
            report.Line($"  available_instances: {type.AvailableInstances}");
        }
    }
}
