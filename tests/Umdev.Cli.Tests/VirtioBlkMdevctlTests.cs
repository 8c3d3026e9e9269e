using Umdev.VfioUser.Client;

namespace Umdev.Cli.Tests;

/// <summary>
/// mdevctl sets a virtio-blk disk's backing file as it sets vendor attributes of kernel mdevs: the
/// per-device <c>attrs</c> of a definition are written into the device's sysfs directory at <c>start</c>.
/// </summary>
public sealed class VirtioBlkMdevctlTests : IDisposable
{
    private const string U = "83b8f4f2-509f-382f-3c1e-e6bfe0fa3001";
    private readonly string _files = Directory.CreateTempSubdirectory("umdev-vblk-").FullName;
    private readonly Daemon _daemon;
    private readonly MdevctlRunner _mdevctl;

    public VirtioBlkMdevctlTests()
    {
        _daemon = Daemon.Start(null, "--parent", $"virtio:disks=2,disk-dirs={_files}");
        _mdevctl = new MdevctlRunner(_daemon);
    }

    public void Dispose()
    {
        _daemon.Dispose();
        _mdevctl.Dispose();
        Directory.Delete(_files, true);
    }

    private string Definition(string backing)
    {
        string path = Path.Combine(_files, "disk.json");
        File.WriteAllText(path, $$"""{"mdev_type": "virtio-blk", "start": "manual", "attrs": [{"backing": "{{backing}}"}]}""");
        return path;
    }

    private string Attribute(string name) => File.ReadAllText(Path.Combine(_daemon.Dir, "bus/mdev/devices", U, name));

    [Fact]
    public void DefineWithBackingAttributeThenStartSetsIt()
    {
        string disk = Path.Combine(_files, "disk.img");
        File.WriteAllBytes(disk, new byte[1 << 20]);
        _mdevctl.Run("define", "-u", U, "-p", "virtio", "--jsonfile", Definition(disk)).AssertSuccess();
        Assert.Contains($"\"backing\": \"{disk}\"", _mdevctl.Run("list", "-d", "--dumpjson").AssertSuccess().Stdout);

        _mdevctl.Run("start", "-u", U).AssertSuccess();
        Assert.Equal(disk + "\n", Attribute("backing"));
        Assert.Equal($"{U} virtio virtio-blk manual (defined)\n\n", _mdevctl.Run("list").AssertSuccess().Stdout);

        _mdevctl.Run("stop", "-u", U).AssertSuccess();
        _mdevctl.Run("undefine", "-u", U).AssertSuccess();
    }

    [Fact]
    public void StartWithAMissingBackingFileFailsAndLeavesNoDevice()
    {
        _mdevctl.Run("define", "-u", U, "-p", "virtio", "--jsonfile", Definition(Path.Combine(_files, "missing.img"))).AssertSuccess();
        var start = _mdevctl.Run("start", "-u", U);
        Assert.NotEqual(0, start.ExitCode);
        Assert.Contains("No such file or directory", start.Stderr + start.Stdout);
        Assert.False(Directory.Exists(Path.Combine(_daemon.Dir, "bus/mdev/devices", U)));
    }

    [Fact]
    public void BackingWritesThroughTheMountGiveTheKernelsErrnos()
    {
        string disk = Path.Combine(_files, "ro.img");
        File.WriteAllBytes(disk, new byte[1 << 20]);
        string create = Path.Combine(_daemon.Dir, "devices/virtual/virtio/virtio/mdev_supported_types/virtio-blk/create");
        Shell.Sh($"echo {U} > {create}").AssertSuccess();
        string backing = Path.Combine(_daemon.Dir, "bus/mdev/devices", U, "backing");
        Shell.Sh($"echo {_files}/nonexistent.img > {backing}").AssertFails("No such file or directory");
        Shell.Sh($"echo relative.img > {backing}").AssertFails("Invalid argument");
        Shell.Sh($"echo /etc/shadow > {backing}").AssertFails("Permission denied");   // outside disk-dirs
        Shell.Sh($"echo {_files}/../etc/shadow > {backing}").AssertFails("Invalid argument");
        Shell.Sh($"ln -s /etc/shadow {_files}/shadow.img && echo {_files}/shadow.img > {backing}").AssertFails("Too many levels of symbolic links");
        Assert.Equal("\n", Attribute("backing"));
        Shell.Sh($"echo 1 > {Path.GetDirectoryName(backing)}/readonly && echo {disk} > {backing}").AssertSuccess();
        Assert.Equal(disk + "\n", Attribute("backing"));
        string socket = Path.Combine(_daemon.SocketDir, U + ".sock");
        for (int i = 0; i < 200 && !File.Exists(socket); i++) Thread.Sleep(25);
        using (var vmm = VfioUserClient.Connect(socket))
        {
            vmm.GetInfo();
            Shell.Sh($"echo {disk} > {backing}").AssertFails("Device or resource busy");
        }
    }
}
