using System.CommandLine;
using System.Text;
using Umdev.Core;
using Umdev.Vfio;
using Umdev.Guest;
using Umdev.Interop;
using Microsoft.Extensions.Logging.Abstractions;
using Umdev.VfioUser;
using Umdev.VfioUser.Client;

namespace Umdev.Cli;

/// <summary>
/// <c>umdev demo</c>: the kernel documentation's mtty walkthrough (samples/vfio-mdev/README.rst) end to
/// end — types, create, IOMMU group, the guest's lspci and 8250 probe, a loopback through every port,
/// remove — with a check at each step. Management goes through the sysfs tree mounted over FUSE (or
/// the core in process where FUSE is missing); the guest reaches the device over its vfio-user socket. Exits 1 if any check fails, so it doubles as a smoke test.
/// </summary>
public static partial class DemoCommand
{
    public const string DemoUuid = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001";
    private const string SysPath = "/sys/" + DemoSysfs.ParentPath;

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
        var command = new Command("demo", "Replay the kernel's mtty walkthrough end to end, then show an mbochs display; exits non-zero if any check fails");
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
        var mtty = ParentPlugins.Get("mtty");
        mtty.Register(core, MdevParentOptions.Defaults(mtty));
        string socketDir = Directory.CreateTempSubdirectory("umdev-demo-sock-").FullName;
        using var vfioUser = new VfioUserService(core, socketDir, NullLoggerFactory.Instance);
        using var sysfs = DemoSysfs.Open(core, report);
        report.Line("umdev demo — the mtty sample of the kernel documentation, in user space");
        report.Line($"management through {sysfs.Describe}; devices served over vfio-user in {socketDir}");
        report.Line();

        report.Shell($"ls {SysPath}/mdev_supported_types");
        foreach (var type in new[] { "mtty-1", "mtty-2" })
        {
            report.Line($"{type}/");
            foreach (var attribute in new[] { "name", "device_api", "available_instances" })
                report.Line($"  {attribute + ":",-21}{sysfs.TypeAttribute(type, attribute)}");
        }
        report.Equal("24", sysfs.TypeAttribute("mtty-1", "available_instances"), "mtty-1 offers 24 instances");
        report.Equal("12", sysfs.TypeAttribute("mtty-2", "available_instances"), "mtty-2 offers 12 instances");
        report.Equal("Dual port serial", sysfs.TypeAttribute("mtty-2", "name"), "mtty-2 is the dual port serial type");

        report.Line();
        report.Shell($"echo \"{DemoUuid}\" > {SysPath}/mdev_supported_types/mtty-2/create");
        sysfs.Create("mtty-2", DemoUuid + "\n");
        report.Check(sysfs.DeviceExists(DemoUuid), "device created under its lowercase UUID");
        report.Equal("11", sysfs.TypeAttribute("mtty-2", "available_instances"), "mtty-2 available_instances drops to 11");
        if (sysfs.IsMounted)
        {
            report.Shell($"tree {SysPath}/{DemoUuid}");
            sysfs.PrintDevice(DemoUuid, report.Output);
        }
        report.Shell($"readlink /sys/bus/mdev/devices/{DemoUuid}/iommu_group");
        string group = sysfs.IommuGroupLink(DemoUuid);
        report.Line(group);
        report.Check(group.StartsWith("../../../../../kernel/iommu_groups/"), "device has its own IOMMU group");

        report.Line();
        report.Shell($"cat /sys/bus/mdev/devices/{DemoUuid}/vfio-user/socket");
        string? socket = sysfs.SocketPath(DemoUuid);
        report.Line(socket ?? "(none)");
        report.Check(socket is not null && File.Exists(socket), "device served on its own vfio-user socket");
        if (socket is null) return;
        report.Line($"-- a guest boots with the device: qemu-system-x86_64 … -device '{{\"driver\":\"vfio-user-pci\",\"socket\":{{\"path\":\"{socket}\",\"type\":\"unix\"}}}}' --");
        report.Line("   (here the guest is umdev's C# firmware + 8250 driver, speaking vfio-user through that socket)");
        using (var device = VfioUserClient.Connect(socket))
            GuestSession(report, device);

        report.Line();
        report.Shell($"echo 1 > /sys/bus/mdev/devices/{DemoUuid}/remove");
        sysfs.Remove(DemoUuid, "1\n");
        report.Check(!sysfs.DeviceExists(DemoUuid), "device removed");
        report.Check(!File.Exists(socket), "its socket is gone with it");
        report.Shell($"cat {SysPath}/mdev_supported_types/mtty-2/available_instances");
        string restored = sysfs.TypeAttribute("mtty-2", "available_instances");
        report.Line(restored);
        report.Equal("12", restored, "mtty-2 available_instances restored to 12");
        DemoDisplay.Walkthrough(report, core, socketDir);
        Directory.Delete(socketDir);
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
}
