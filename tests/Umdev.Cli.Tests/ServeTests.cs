using Umdev.Interop;
using Umdev.Sysfs;

namespace Umdev.Cli.Tests;

/// <summary><c>umdev serve</c> as a process: ready line, signals, refusals, stale-mount recovery.</summary>
public class ServeTests
{
    private static string Available(string dir, string type) =>
        File.ReadAllText(Path.Combine(dir, $"class/mdev_bus/mtty/mdev_supported_types/{type}/available_instances"));

    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public void ServesUntilASignalThenUnmountsAndExitsCleanly(string signal)
    {
        using var daemon = Daemon.Start(extra: ["--mtty-ports", "6"]);
        Assert.Equal(SysfsMount.FileSystemType, MountTable.FileSystemAt(daemon.Dir));
        Assert.Equal("3\n", Available(daemon.Dir, "mtty-2"));
        daemon.Signal(signal);
        Assert.Equal(0, daemon.WaitForExit());
        Assert.Null(MountTable.FileSystemAt(daemon.Dir));
        string log = daemon.Stderr();
        Assert.Contains("parent mtty registered with types mtty-1, mtty-2", log);
        Assert.Contains("shutting down", log);
    }

    [Fact]
    public void WithNoParentGivenItHostsMttyWith24Ports()
    {
        using var daemon = Daemon.Start();
        Assert.Equal(["mtty"], Directory.GetDirectories(Path.Combine(daemon.Dir, "class/mdev_bus")).Select(Path.GetFileName));
        Assert.Equal("24\n", Available(daemon.Dir, "mtty-1"));
        Assert.Equal("12\n", Available(daemon.Dir, "mtty-2"));
    }

    [Fact]
    public void AParentOptionSetsThePortPool()
    {
        using var daemon = Daemon.Start(extra: ["--parent", "mtty:ports=4"]);
        Assert.Equal("4\n", Available(daemon.Dir, "mtty-1"));
        Assert.Equal("2\n", Available(daemon.Dir, "mtty-2"));
    }

    [Fact]
    public void AConfigFileNamesTheParents()
    {
        string config = Path.GetTempFileName();
        try
        {
            File.WriteAllText(config, "# parents of this daemon\n\n   # indented comment\n  parent   mtty:ports=6  \n");
            using var daemon = Daemon.Start(extra: ["--config", config]);
            Assert.Equal("6\n", Available(daemon.Dir, "mtty-1"));
            Assert.Equal("3\n", Available(daemon.Dir, "mtty-2"));
        }
        finally
        {
            File.Delete(config);
        }
    }

    [Theory]
    [InlineData("--parent|nosuch", "--parent nosuch: unknown parent 'nosuch' (known: mtty, mbochs, virtio)")]
    [InlineData("--parent|mtty:prots=4", "--parent mtty:prots=4: parent mtty: unknown option 'prots' (accepted: ports, intx)")]
    [InlineData("--parent|mtty:ports=many", "--parent mtty:ports=many: parent mtty: option ports: 'many' is not an integer")]
    [InlineData("--parent|mtty:ports=-1", "--parent mtty:ports=-1: parent mtty: option ports: '-1' is below the minimum 0")]
    [InlineData("--parent|mtty:ports=4,ports=5", "--parent mtty:ports=4,ports=5: parent mtty: option ports given twice")]
    [InlineData("--parent|mtty:ports", "--parent mtty:ports: parent mtty: 'ports' is not key=value")]
    [InlineData("--parent|mtty|--parent|mtty:ports=2", "--parent mtty:ports=2: parent mtty is already given by --parent mtty")]
    [InlineData("--parent|mtty:ports=2|--mtty-ports|3", "--mtty-ports: parent mtty is already given by --parent mtty:ports=2")]
    [InlineData("--mtty-ports|-3", "--mtty-ports: parent mtty: option ports: '-3' is below the minimum 0")]
    [InlineData("--config|/nonexistent/umdev.conf", "--config /nonexistent/umdev.conf: Could not find a part of the path '/nonexistent/umdev.conf'.")]
    public void BadParentInputIsExit2WithOneLineNamingItAndNothingMounted(string args, string message)
    {
        string dir = Directory.CreateTempSubdirectory("umdev-badparent-").FullName;
        using var daemon = Daemon.Spawn(dir, args.Split('|'));
        Assert.Equal(2, daemon.WaitForExit());
        Assert.Equal($"umdev serve: {message}\n", daemon.Stderr());
        Assert.Null(MountTable.FileSystemAt(dir));
        Assert.Empty(Directory.GetFileSystemEntries(daemon.SocketDir));
    }

    [Theory]
    [InlineData("--parent|virtio:disk-dirs=/srv:disks", "parent virtio: option disk-dirs: 'disks' is not an absolute path")]
    [InlineData("--virtio-disk-dirs|/srv/../etc", "parent virtio: option disk-dirs: '/srv/../etc' has a '.' or '..' component")]
    [InlineData("--parent|mtty:intx=edge", "parent mtty: option intx: 'edge' is not one of pending, level, sample")]
    public void OptionValuesAPluginRefusesAsItRegistersAreExit2WithOneLineAndNothingMounted(string args, string message)
    {
        string dir = Directory.CreateTempSubdirectory("umdev-badparent-").FullName;
        using var daemon = Daemon.Spawn(dir, args.Split('|'));
        Assert.Equal(2, daemon.WaitForExit());
        Assert.Contains($"umdev serve: {message}\n", daemon.Stderr());
        Assert.DoesNotContain("Unhandled exception", daemon.Stderr());
        Assert.Null(MountTable.FileSystemAt(dir));
    }

    [Theory]
    [InlineData("parent mtty:ports=4\nparent mtty\n", ":2: parent mtty is already given by {0}:1")]
    [InlineData("# ok\nparnt mtty\n", ":2: expected 'parent NAME[:key=value,...]', got 'parnt mtty'")]
    [InlineData("parent mtty:ports=4 extra\n", ":1: expected 'parent NAME[:key=value,...]', got 'parent mtty:ports=4 extra'")]
    [InlineData("\n\nparent mtty:size=1G\n", ":3: parent mtty: unknown option 'size' (accepted: ports, intx)")]
    public void ABadConfigLineIsExit2NamingFileAndLine(string content, string message)
    {
        string config = Path.GetTempFileName();
        string dir = Directory.CreateTempSubdirectory("umdev-badconfig-").FullName;
        try
        {
            File.WriteAllText(config, content);
            using var daemon = Daemon.Spawn(dir, "--config", config);
            Assert.Equal(2, daemon.WaitForExit());
            Assert.Equal($"umdev serve: {config}{string.Format(message, config)}\n", daemon.Stderr());
            Assert.Null(MountTable.FileSystemAt(dir));
        }
        finally
        {
            File.Delete(config);
        }
    }

    [Fact]
    public void AVfioUserClientThatNeverSendsVersionIsDroppedAfterVersionTimeoutAndTheNextOneIsServed()
    {
        using var daemon = Daemon.Start(extra: ["--version-timeout", "0.5"]);
        var uuid = Guid.NewGuid();
        File.WriteAllText(Path.Combine(daemon.Dir, "class/mdev_bus/mtty/mdev_supported_types/mtty-1/create"), uuid.ToString());
        string socket = Umdev.VfioUser.VfioUserService.SocketPathFor(daemon.SocketDir, uuid);
        using (var silent = UnixSocket.Connect(socket))
        {
            Assert.True(silent.WaitReadable(10_000), "the silent client was not closed");
            Assert.Equal(0, silent.Receive(new byte[16], [], out _)); // end of stream
        }
        using (var client = Umdev.VfioUser.Client.VfioUserClient.Connect(socket))
        {
            Span<byte> id = stackalloc byte[2];
            Assert.Equal(2, client.ReadRegion(Umdev.Vfio.VfioPci.ConfigRegionIndex, 0, id));
        }
        daemon.Signal("TERM");
        Assert.Equal(0, daemon.WaitForExit());
        Assert.Contains("closed: no VERSION within 0.5 s", daemon.Stderr());
    }

    [Theory]
    [InlineData("0")]
    [InlineData("90000")]
    public void AVersionTimeoutOutOfRangeIsExit2(string seconds)
    {
        string dir = Directory.CreateTempSubdirectory("umdev-badversion-").FullName;
        using var daemon = Daemon.Spawn(dir, "--version-timeout", seconds);
        Assert.Equal(2, daemon.WaitForExit());
        Assert.Equal("umdev serve: --version-timeout must be above 0 and at most 86400 seconds\n", daemon.Stderr());
        Assert.Null(MountTable.FileSystemAt(dir));
    }

    [Fact]
    public void ASecondDaemonOnTheSameDirectoryIsRefusedAndTheFirstKeepsServing()
    {
        using var first = Daemon.Start();
        File.WriteAllText(Path.Combine(first.Dir, "class/mdev_bus/mtty/mdev_supported_types/mtty-1/create"), Guid.NewGuid().ToString());
        using var second = Daemon.Spawn(first.Dir);
        Assert.Equal(1, second.WaitForExit());
        Assert.Contains($"mount point {first.Dir} is busy: another umdev daemon is serving it", second.Stderr());
        Assert.False(first.HasExited);
        Assert.Equal("23\n", Available(first.Dir, "mtty-1"));
        Assert.Single(Directory.GetFileSystemEntries(Path.Combine(first.Dir, "bus/mdev/devices")));
        first.Signal("TERM");
        Assert.Equal(0, first.WaitForExit());
        Assert.Matches("created [0-9a-f-]{36} \\(mtty-1 on mtty, IOMMU group 0\\)", first.Stderr());
    }

    [Fact]
    public void AStaleMountOfAKilledDaemonIsRecovered()
    {
        using var killed = Daemon.Start();
        killed.Kill(); // SIGKILL: no unmount
        Assert.Equal(Errno.ENOTCONN, MountTable.Probe(killed.Dir));
        using var next = Daemon.Start(killed.Dir);
        Assert.Equal("24\n", Available(next.Dir, "mtty-1"));
        next.Signal("TERM");
        Assert.Equal(0, next.WaitForExit());
        Assert.Contains("stale mount", next.Stderr());
        Assert.Null(MountTable.FileSystemAt(next.Dir));
    }

    [Fact]
    public void AMissingMountPointIsOneClearError()
    {
        using var daemon = Daemon.Spawn("/nonexistent/umdev-sys");
        Assert.Equal(1, daemon.WaitForExit());
        Assert.Equal("umdev serve: mount point /nonexistent/umdev-sys does not exist\n", daemon.Stderr());
    }

    [Fact]
    public void NoFuseIsOneClearError()
    {
        string dir = Directory.CreateTempSubdirectory("umdev-nofuse-").FullName;
        try
        {
            // A private mount namespace with an empty /dev: no /dev/fuse.
            var r = Shell.Run("/usr/bin/unshare", "-m", "--propagation", "private", "/bin/bash", "-c",
                "mount -t tmpfs none /dev && exec dotnet \"$0\" serve --sysfs \"$1\" --sockets \"$1\"",
                Daemon.UmdevDll, dir);
            Assert.Equal(1, r.ExitCode);
            Assert.Equal("umdev serve: FUSE is not available: /dev/fuse missing (load the fuse module)\n", r.Stderr);
            Assert.Equal("", r.Stdout);
        }
        finally
        {
            Directory.Delete(dir);
        }
    }

    [Fact]
    public void NoPermissionIsOneClearError()
    {
        string dir = Directory.CreateTempSubdirectory("umdev-noperm-").FullName;
        Shell.Run("/bin/chmod", "755", dir).AssertSuccess(); // the user can reach it, just not mount on it
        // The build may sit in a directory only root can enter (a clone under /root): the user runs a copy.
        string bin = Directory.CreateTempSubdirectory("umdev-noperm-bin-").FullName;
        foreach (var file in Directory.EnumerateFiles(AppContext.BaseDirectory))
            if (file.EndsWith(".dll") || Path.GetFileName(file).StartsWith("umdev.")) File.Copy(file, Path.Combine(bin, Path.GetFileName(file)));
        Shell.Run("/bin/chmod", "-R", "a+rX", bin).AssertSuccess();
        try
        {
            var r = Shell.Run("/usr/bin/setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
                "/usr/bin/env", "HOME=/tmp", "DOTNET_CLI_HOME=/tmp", "dotnet", Path.Combine(bin, "umdev.dll"), "serve", "--sysfs", dir, "--sockets", dir);
            Assert.Equal(1, r.ExitCode);
            Assert.Matches(@"^umdev serve: no permission to (open /dev/fuse \(run as root\)|mount .* \(needs CAP_SYS_ADMIN\))\n$", r.Stderr);
        }
        finally
        {
            Directory.Delete(dir);
            Directory.Delete(bin, true);
        }
    }
}
