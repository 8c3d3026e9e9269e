using System.CommandLine;
using System.Diagnostics;
using Umdev.Core;
using Umdev.VfioUser;

namespace Umdev.Cli;

/// <summary>
/// <c>umdev vm &lt;uuid&gt;</c>: the kernel documentation's mtty steps 3–7 in one command. Boots the small
/// Linux guest of <c>tools/guest</c> under QEMU ≥ 10.1 with the served device attached over its vfio-user
/// socket and hands this terminal to the guest's console (ttyS0; the card's ports are ttyS1 and ttyS2).
/// Exits with QEMU's status: 0 once the guest powers off. Never prompts.
/// </summary>
public static class VmCommand
{
    public static Command Create()
    {
        var uuid = new Argument<string>("uuid") { Description = "The mdev UUID of a device umdev serve is serving" };
        var sockets = new Option<string>("--sockets")
        {
            Description = "Directory of the vfio-user sockets",
            DefaultValueFactory = _ => VfioUserServiceOptions.DefaultSocketDirectory,
        };
        var qemu = new Option<string?>("--qemu") { Description = "qemu-system-x86_64 (>= 10.1, with vfio-user-pci) to use; default: $QEMU, a tools/qemu/build-qemu.sh build, or the one on PATH" };
        var buildQemu = new Option<bool>("--build-qemu") { Description = "When no QEMU >= 10.1 is found, build one with tools/qemu/build-qemu.sh (about 15 minutes, needs root)" };
        var command = new Command("vm", "Boot a small Linux guest with the device attached over vfio-user and give this terminal its console")
        {
            uuid, sockets, qemu, buildQemu,
        };
        command.SetAction(r => Run(r.GetValue(uuid)!, r.GetValue(sockets)!, r.GetValue(qemu), r.GetValue(buildQemu), Console.Error));
        return command;
    }

    public static int Run(string uuidText, string socketDirectory, string? qemu, bool buildQemu, TextWriter error)
    {
        if (!MdevUuid.TryParse(uuidText, out var uuid))
        {
            error.WriteLine($"umdev vm: '{uuidText}' is not a UUID");
            return 2;
        }
        string socket = Path.GetFullPath(VfioUserService.SocketPathFor(socketDirectory, uuid));
        if (!File.Exists(socket))
        {
            error.WriteLine($"umdev vm: no device {MdevUuid.ToName(uuid)} is served at {socket} (create it first: with " +
                "umdev serve running, write the UUID to a type's create file, e.g. " +
                $"echo {MdevUuid.ToName(uuid)} > {ServeCommand.DefaultSysfs}/devices/virtual/mtty/mtty/mdev_supported_types/mtty-2/create)");
            return 1;
        }
        if (RepositoryTools.Find() is not { } tools)
        {
            error.WriteLine($"umdev vm: the guest tooling (tools/guest, tools/qemu) is not in any directory above {AppContext.BaseDirectory}; " +
                "run umdev from a checkout of its repository");
            return 1;
        }
        if (FindQemu(tools, qemu, buildQemu, error) is not { } qemuPath) return 1;

        error.WriteLine($"umdev vm: booting the guest with {MdevUuid.ToName(uuid)} on {socket} ({qemuPath}); " +
            "in the guest, poweroff ends it (Ctrl-A X quits QEMU at any time)");
        var run = new ProcessStartInfo(tools.RunGuest) { UseShellExecute = false };
        run.ArgumentList.Add("--interactive");
        run.ArgumentList.Add(socket);
        run.Environment["QEMU"] = qemuPath;
        using var guest = Process.Start(run)!; // this terminal, as it is: QEMU puts it in raw mode and restores it
        guest.WaitForExit();
        return guest.ExitCode;
    }

    /// <summary>tools/qemu/find-qemu.sh: the path of a usable QEMU, or null after one message saying how to get one.</summary>
    private static string? FindQemu(RepositoryTools tools, string? qemu, bool build, TextWriter error)
    {
        var find = new ProcessStartInfo(tools.FindQemu)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = !build, // its one line is replaced by ours below; a build shows its progress
        };
        if (build) find.ArgumentList.Add("--build");
        if (qemu is not null) find.Environment["QEMU"] = qemu;
        using var p = Process.Start(find)!;
        string path = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        if (p.ExitCode == 0 && path.Length > 0) return path;
        if (qemu is not null) error.WriteLine($"umdev vm: {qemu} is not a qemu-system-x86_64 >= 10.1 with vfio-user-pci");
        else if (build) error.WriteLine("umdev vm: building QEMU failed (tools/qemu/build-qemu.sh; its output is above)");
        else
            error.WriteLine("umdev vm: no QEMU >= 10.1 with vfio-user-pci found (Debian 12's QEMU is 7.2, without vfio-user). " +
                "Build one: add --build-qemu, or run tools/qemu/build-qemu.sh (about 15 minutes on 2 cores; needs root and " +
                "the Debian mirror); or name one with --qemu PATH.");
        return null;
    }
}
