using System.Diagnostics;
using Umdev.VfioUser.Client;

namespace Umdev.Cli.Tests;

/// <summary>
/// <c>backing</c> and <c>readonly</c> written through the daemon's mount: what used to hang (a FIFO, a file
/// of the tree itself) fails at once, and the daemon and the disk still answer afterwards. The tree is
/// mounted inside a disk directory, and a directory of the tree is listed too, as a careless admin might.
/// </summary>
public sealed class VirtioBlkBackingTests : IDisposable
{
    private const string U = "83b8f4f2-509f-382f-3c1e-e6bfe0fa3101";
    private readonly string _root = Directory.CreateTempSubdirectory("umdev-vblk-root-").FullName;
    private readonly string _disks;
    private readonly Daemon _daemon;

    public VirtioBlkBackingTests()
    {
        _disks = Directory.CreateDirectory(Path.Combine(_root, "disks")).FullName;
        string sys = Directory.CreateDirectory(Path.Combine(_root, "sys")).FullName;
        _daemon = Daemon.Start(sys, "--parent", $"virtio:disks=2,disk-dirs={_disks}:{_root}:{sys}/bus");
        Shell.Sh($"echo {U} > {_daemon.Dir}/devices/virtual/virtio/virtio/mdev_supported_types/virtio-blk/create").AssertSuccess();
    }

    public void Dispose()
    {
        _daemon.Dispose();
        Directory.Delete(_root, true);
    }

    private string Device => Path.Combine(_daemon.Dir, "bus/mdev/devices", U);

    /// <summary>Writes <paramref name="value"/> into the attribute with a 10 s cap; asserts it failed with <paramref name="error"/> within 2 s.</summary>
    private void AssertFailsFast(string attribute, string value, string error)
    {
        var watch = Stopwatch.StartNew();
        Shell.Sh($"timeout 10 bash -c 'echo {value} > {Device}/{attribute}'").AssertFails(error);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"writing {value} took {watch.Elapsed}");
    }

    /// <summary>The disk takes a real file, its socket answers a VMM, and the other parts of the tree answer.</summary>
    private void AssertDiskAndDaemonAnswer()
    {
        Assert.Equal("\n", File.ReadAllText(Path.Combine(Device, "backing")));
        string image = Path.Combine(_disks, "disk.img");
        File.WriteAllBytes(image, new byte[1 << 20]);
        Shell.Sh($"echo {image} > {Device}/backing").AssertSuccess();
        Assert.Equal(image + "\n", File.ReadAllText(Path.Combine(Device, "backing")));
        string socket = Path.Combine(_daemon.SocketDir, U + ".sock");
        for (int i = 0; i < 200 && !File.Exists(socket); i++) Thread.Sleep(25);
        using var vmm = VfioUserClient.Connect(socket);
        vmm.GetInfo();
        Assert.Contains("virtio-blk", File.ReadAllText(Path.Combine(_daemon.Dir, "devices/virtual/virtio/virtio/mdev_supported_types/virtio-blk/name")));
    }

    [Fact]
    public void AFifoIsEinvalAtOnce()
    {
        Shell.Run("mkfifo", Path.Combine(_disks, "fifo.img")).AssertSuccess();
        AssertFailsFast("backing", Path.Combine(_disks, "fifo.img"), "Invalid argument");
        AssertDiskAndDaemonAnswer();
    }

    [Fact]
    public void TheTreesOwnFilesAreEinvalAtOnce()
    {
        AssertFailsFast("backing", Path.Combine(Device, "backing"), "Invalid argument");          // disk dir on the FUSE mount
        AssertFailsFast("backing", Path.Combine(_daemon.Dir, "devices/virtual/virtio/virtio", U, "backing"), "Invalid argument"); // crosses into it
        AssertDiskAndDaemonAnswer();
    }

    [Fact]
    public void ReadonlyTakesKernelBooleansAndIsRefusedWhileTheDiskIsOpen()
    {
        string ro = Path.Combine(Device, "readonly");
        Assert.Equal("0\n", File.ReadAllText(ro));
        foreach (var (word, value) in new[] { ("on", "1"), ("n", "0"), ("Y", "1"), ("off", "0"), ("1", "1"), ("0", "0") })
        {
            Shell.Sh($"echo {word} > {ro}").AssertSuccess(word);
            Assert.Equal(value + "\n", File.ReadAllText(ro));
        }
        Shell.Sh($"echo maybe > {ro}").AssertFails("Invalid argument");
        Assert.Equal("0\n", File.ReadAllText(ro));
        AssertDiskAndDaemonAnswer();
        string socket = Path.Combine(_daemon.SocketDir, U + ".sock");
        using var vmm = VfioUserClient.Connect(socket);
        vmm.GetInfo();
        Shell.Sh($"echo 1 > {ro}").AssertFails("Device or resource busy");
        Assert.Equal("0\n", File.ReadAllText(ro));
    }
}
