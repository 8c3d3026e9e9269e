using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.Versioning;
using Umdev.Interop;
using Xunit.Abstractions;

namespace Umdev.Devices.VirtioBlk.Tests;

/// <summary>
/// What a <c>backing</c> writer may make the daemon open: only a regular file or block device beneath the
/// parent's disk directories, named without <c>..</c> and reached without a symlink or a mount crossing,
/// in the mode the writer chose; everything else fails at once with the kernel's errno.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class BackingConfinementTests : IDisposable
{
    private readonly DiskFixture _f = new();
    private readonly string _elsewhere = Directory.CreateTempSubdirectory("umdev-vblk-elsewhere-").FullName;
    private readonly ITestOutputHelper _output;

    public BackingConfinementTests(ITestOutputHelper output) => _output = output;

    public void Dispose()
    {
        _f.Dispose();
        Directory.Delete(_elsewhere, true);
    }

    private static Errno Refusal(VirtioBlkDevice disk, string path) =>
        Assert.Throws<ErrnoException>(() => disk.SetBacking(path)).Errno;

    /// <summary>A root-only (0600) file outside the disk directories, the target of every trick.</summary>
    private string Secret()
    {
        string path = Path.Combine(_elsewhere, "secret");
        File.WriteAllBytes(path, new byte[8192]);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output);
    }

    /// <summary>The disk still serves a guest after the refusals: a fresh backing, a read through the socket.</summary>
    private void AssertDiskStillServes(Umdev.Core.MdevDevice mdev)
    {
        DiskFixture.Disk(mdev).SetBacking(_f.Backing(1 << 20, seed: 5));
        var d = _f.Connect(mdev);
        d.Start();
        var sector = new byte[512];
        Assert.Equal(VirtioBlk.Ok, d.Request(VirtioBlk.In, 0, sector, writeToDevice: false).Status);
    }

    [Fact]
    public void PathsOutsideTheDiskDirectoriesAreEacces()
    {
        var disk = DiskFixture.Disk(_f.Create(null));
        Assert.Equal(Errno.EACCES, Refusal(disk, "/etc/shadow"));
        Assert.Equal(Errno.EACCES, Refusal(disk, Secret()));
        Assert.Equal(Errno.EACCES, Refusal(disk, _f.Dir + "x/disk.img")); // a sibling sharing the name's prefix
        Assert.Equal(Errno.EACCES, Refusal(disk, _f.Dir));                // the directory itself names no disk
        Assert.Null(disk.BackingPath);
    }

    [Fact]
    public void DotAndDotDotComponentsAreEinval()
    {
        var disk = DiskFixture.Disk(_f.Create(null));
        string image = _f.Backing(1 << 20);
        Assert.Equal(Errno.EINVAL, Refusal(disk, $"{_f.Dir}/../{Path.GetFileName(_elsewhere)}/secret"));
        Assert.Equal(Errno.EINVAL, Refusal(disk, $"{_f.Dir}/../../etc/shadow"));
        Assert.Equal(Errno.EINVAL, Refusal(disk, $"{_f.Dir}/./{Path.GetFileName(image)}"));
        Assert.Equal(Errno.EINVAL, Refusal(disk, "relative.img"));
        disk.SetBacking($"{_f.Dir}//{Path.GetFileName(image)}"); // a doubled slash is only a slash
    }

    [Fact]
    public void SymlinksInTheLastOrAMiddleComponentAreEloopAndTheTargetIsUntouched()
    {
        var disk = DiskFixture.Disk(_f.Create(null));
        string secret = Secret();
        string last = Path.Combine(_f.Dir, "disk.img");
        File.CreateSymbolicLink(last, secret);
        Assert.Equal(Errno.ELOOP, Refusal(disk, last));
        Directory.CreateSymbolicLink(Path.Combine(_f.Dir, "images"), _elsewhere);
        Assert.Equal(Errno.ELOOP, Refusal(disk, Path.Combine(_f.Dir, "images", "secret")));
        // a link to a file inside the disk directory is refused too: the name must be the file's own
        string inside = _f.Backing(1 << 20);
        File.CreateSymbolicLink(Path.Combine(_f.Dir, "alias.img"), inside);
        Assert.Equal(Errno.ELOOP, Refusal(disk, Path.Combine(_f.Dir, "alias.img")));
        Assert.Null(disk.BackingPath);
        Assert.Equal(new byte[8192], File.ReadAllBytes(secret));
    }

    [Fact]
    public void AnImageSwappedForASymlinkDuringOpensNeverOpensTheTarget()
    {
        string secret = Secret(); // 8 KiB: 16 sectors, the image 2048
        string path = Path.Combine(_f.Dir, "disk.img");
        string image = _f.Backing(1 << 20, name: "image.tmp");
        File.Copy(image, path);
        string link = Path.Combine(_f.Dir, "link.tmp");
        using var stop = new CancellationTokenSource();
        var swapper = Task.Run(() =>
        {
            // rename(2) replaces the name atomically: the path always exists, as image or as symlink
            for (bool toLink = true; !stop.IsCancellationRequested; toLink = !toLink)
            {
                if (toLink)
                {
                    File.CreateSymbolicLink(link, secret);
                    File.Move(link, path, overwrite: true);
                }
                else
                {
                    File.Copy(image, link, overwrite: true);
                    File.Move(link, path, overwrite: true);
                }
            }
        });
        int opened = 0, refused = 0;
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(3) && (opened < 200 || refused < 200))
        {
            try
            {
                using var backing = VirtioBlkBacking.Open(path, [_f.Dir], readOnly: false);
                Assert.Equal(2048UL, backing.Sectors);
                opened++;
            }
            catch (ErrnoException e) when (e.Errno == Errno.ELOOP)
            {
                refused++;
            }
        }
        stop.Cancel();
        swapper.Wait();
        _output.WriteLine($"{opened} opens of the image, {refused} refusals of the symlink");
        Assert.True(opened > 0 && refused > 0, $"the swap was not observed both ways ({opened} opened, {refused} refused)");
        Assert.Equal(new byte[8192], File.ReadAllBytes(secret));
    }

    [Fact]
    public void AFifoIsEinvalAtOnceAndTheDiskStillServes()
    {
        var mdev = _f.Create(null);
        string fifo = Path.Combine(_f.Dir, "fifo.img");
        Assert.Equal(0, Run("mkfifo", fifo).Code);
        var watch = Stopwatch.StartNew();
        var refusal = Task.Run(() => Refusal(DiskFixture.Disk(mdev), fifo));
        Assert.True(refusal.Wait(TimeSpan.FromSeconds(2)), "opening a FIFO blocked");
        Assert.Equal(Errno.EINVAL, refusal.Result);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2));
        Assert.False(DiskFixture.Disk(mdev).ReadOnly); // the device's lock is free
        AssertDiskStillServes(mdev);
    }

    [Fact]
    public void SocketsCharacterDevicesAndDirectoriesAreRefused()
    {
        using var f = new DiskFixture("/dev");
        var mdev = f.Create(null);
        var disk = DiskFixture.Disk(mdev);
        string socketPath = Path.Combine(f.Dir, "socket.img");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(socketPath));
        Assert.Equal(Errno.EINVAL, Refusal(disk, socketPath));
        Assert.Equal(Errno.EINVAL, Refusal(disk, "/dev/null"));
        Assert.Equal(Errno.EINVAL, Refusal(disk, "/dev/zero"));
        Directory.CreateDirectory(Path.Combine(f.Dir, "dir.img"));
        Assert.Equal(Errno.EISDIR, Refusal(disk, Path.Combine(f.Dir, "dir.img")));
        Assert.Null(disk.BackingPath);
    }

    [Fact]
    public void ReadonlyIsTheWritersChoiceNotAGuessFromPermissionBits()
    {
        var mdev = _f.Create(null);
        var disk = DiskFixture.Disk(mdev);
        string path = _f.Backing(1 << 20);
        File.SetUnixFileMode(path, UnixFileMode.UserRead); // root may still write it: the disk stays read-write
        disk.SetBacking(path);
        Assert.False(disk.ReadOnly);
        disk.SetReadOnly(true); // re-opened read-only
        Assert.True(disk.ReadOnly);
        Assert.Equal(path, disk.BackingPath);
        var d = _f.Connect(mdev);
        d.Start();
        Assert.NotEqual(0UL, d.OfferedFeatures & VirtioBlk.ReadOnly);
        Assert.Equal(VirtioBlk.IoErr, d.Request(VirtioBlk.Out, 0, new byte[512], writeToDevice: true).Status);
        Assert.Equal(Errno.EBUSY, Assert.Throws<ErrnoException>(() => disk.SetReadOnly(false)).Errno);
        Assert.True(disk.ReadOnly);
    }

    [Fact]
    public void ReadWriteOnAReadOnlyMountIsErofsAndCrossingAMountIsEinval()
    {
        string source = Directory.CreateDirectory(Path.Combine(_elsewhere, "src")).FullName;
        string image = Path.Combine(source, "disk.img");
        File.WriteAllBytes(image, new byte[1 << 20]);
        string target = Directory.CreateDirectory(Path.Combine(_elsewhere, "ro")).FullName;
        var bind = Run("mount", "--bind", "-o", "ro", source, target);
        if (bind.Code != 0)
        {
            _output.WriteLine($"skipped: a read-only bind mount is not possible here: {bind.Output}");
            return;
        }
        try
        {
            Assert.True(Run("mount", "-o", "remount,bind,ro", target).Code == 0, "remount read-only failed");
            using var f = new DiskFixture(target);
            var disk = DiskFixture.Disk(f.Create(null));
            string onMount = Path.Combine(target, "disk.img");
            Assert.Equal(Errno.EROFS, Refusal(disk, onMount)); // never a silent read-only fallback
            Assert.False(disk.ReadOnly);
            disk.SetReadOnly(true);
            disk.SetBacking(onMount);
            Assert.Equal(onMount, disk.BackingPath);
            Assert.Equal(Errno.EROFS, Assert.Throws<ErrnoException>(() => disk.SetReadOnly(false)).Errno);
            Assert.True(disk.ReadOnly); // unchanged: still open read-only

            // the same file reached from a disk directory above the mount: the path crosses a mount point
            string mountAbove = Directory.CreateDirectory(Path.Combine(f.Dir, "mnt")).FullName;
            Assert.Equal(0, Run("mount", "--bind", source, mountAbove).Code);
            try
            {
                var other = DiskFixture.Disk(f.Create(null));
                Assert.Equal(Errno.EINVAL, Refusal(other, Path.Combine(mountAbove, "disk.img")));
            }
            finally
            {
                Run("umount", mountAbove);
            }
        }
        finally
        {
            Run("umount", target);
        }
    }

    [Fact]
    public void ABlockDeviceIsAccepted()
    {
        string file = Path.Combine(_elsewhere, "loop.img");
        File.WriteAllBytes(file, new byte[4 << 20]);
        var attach = Run("losetup", "--find", "--show", file);
        if (attach.Code != 0)
        {
            _output.WriteLine($"skipped: no loop device (losetup: {attach.Output.Trim()})");
            return;
        }
        string loop = attach.Output.Trim();
        try
        {
            using var backing = VirtioBlkBacking.Open(loop, ["/dev"], readOnly: false);
            Assert.Equal(8192UL, backing.Sectors);
            Assert.False(backing.ReadOnly);
        }
        finally
        {
            Run("losetup", "-d", loop);
        }
    }
}
