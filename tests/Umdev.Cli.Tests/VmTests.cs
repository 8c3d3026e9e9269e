using Umdev.VfioUser.Tests;

namespace Umdev.Cli.Tests;

/// <summary>
/// <c>umdev vm</c>'s refusals, each one message. Booting the guest and typing into ttyS1 through tmux is
/// tools/guest/guest-test.sh's last check (it needs QEMU ≥ 10.1).
/// </summary>
public class VmTests
{
    [Fact]
    public void NoQemuIsOneMessageSayingHowToGetOne()
    {
        using var served = new MttyServerFixture();
        string empty = Directory.CreateTempSubdirectory("umdev-noqemu-").FullName;
        try
        {
            // No QEMU named, no build-qemu.sh build, none on PATH (Debian 12's would be 7.2, unusable anyway).
            var r = Shell.Run("dotnet", new Dictionary<string, string> { ["QEMU"] = "", ["QEMU_WORK"] = empty, ["PATH"] = "/usr/bin:/bin" },
                Daemon.UmdevDll, "vm", served.Device.Name, "--sockets", served.Directory);
            Assert.Equal(1, r.ExitCode);
            Assert.Equal("", r.Stdout);
            Assert.Equal("umdev vm: no QEMU >= 10.1 with vfio-user-pci found (Debian 12's QEMU is 7.2, without vfio-user). " +
                "Build one: add --build-qemu, or run tools/qemu/build-qemu.sh (about 15 minutes on 2 cores; needs root and " +
                "the Debian mirror); or name one with --qemu PATH.\n", r.Stderr);
        }
        finally
        {
            Directory.Delete(empty, true);
        }
    }

    [Fact]
    public void AQemuWithoutVfioUserIsRefused()
    {
        using var served = new MttyServerFixture();
        var error = new StringWriter();
        Assert.Equal(1, VmCommand.Run(served.Device.Name, served.Directory, "/bin/true", false, error));
        Assert.Equal("umdev vm: /bin/true is not a qemu-system-x86_64 >= 10.1 with vfio-user-pci\n", error.ToString());
    }

    [Fact]
    public void ADeviceThatIsNotServedIsRefusedBeforeAnythingRuns()
    {
        using var served = new MttyServerFixture();
        var error = new StringWriter();
        string uuid = "83b8f4f2-509f-382f-3c1e-e6bfe0fa10ff";
        Assert.Equal(1, VmCommand.Run(uuid.ToUpperInvariant(), served.Directory, "/bin/true", false, error));
        Assert.StartsWith($"umdev vm: no device {uuid} is served at {served.Directory}/{uuid}.sock (create it first:", error.ToString());
        Assert.Equal(2, VmCommand.Run("not-a-uuid", served.Directory, null, false, error = new StringWriter()));
        Assert.Equal("umdev vm: 'not-a-uuid' is not a UUID\n", error.ToString());
    }
}
