using System.Diagnostics;
using Umdev.Interop;
using Umdev.VfioUser.Client;

namespace Umdev.Hostile.Tests;

/// <summary>
/// Issue 17 items 3 and 5: a tree writer naming a file in <c>backing</c> never makes root open what it should not,
/// and never hangs the daemon. Each trick gets the errno of decisions.md at once.
/// </summary>
[Collection(HostileCollection.Name)]
public sealed class BackingTests(HostileDaemon daemon) : IDisposable
{
    private const int ELOOP = 40;

    /// <summary>How long a refused backing may take: an open and a few checks, on a loaded machine.</summary>
    private static readonly TimeSpan Fast = TimeSpan.FromSeconds(2);

    private readonly HostileDaemon d = daemon.Revived();
    private readonly string _outside = Directory.CreateTempSubdirectory("umdev-hostile-outside-").FullName;
    private readonly string _mine = Path.Combine(daemon.DiskDir, "t-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        Directory.Delete(_outside, true);
        if (Directory.Exists(_mine)) Directory.Delete(_mine, true);
    }

    /// <summary>Writes <paramref name="path"/> to <c>backing</c>; the errno, or a failure if it hangs (then the hang is released so later cases run).</summary>
    private Errno SetBacking(HostileDaemon.Target target, string path, string? fifo = null)
    {
        var watch = Stopwatch.StartNew();
        var write = Task.Run(() => Posix.WriteOnce(Path.Combine(target.Path, "backing"), path + "\n"));
        if (!write.Wait(TimeSpan.FromSeconds(5)))
        {
            // A FIFO's open waits for a writer: be one. Anything else that hangs takes the daemon with it: kill it.
            if (fifo is not null) using (File.Open(fifo, FileMode.Open, FileAccess.Write)) { }
            if (!write.Wait(TimeSpan.FromSeconds(5))) d.KillHard();
            Assert.Fail($"backing <- {path} hung");
        }
        Assert.True(watch.Elapsed < Fast, $"backing <- {path} took {watch.Elapsed.TotalSeconds:F1} s");
        return write.Result;
    }

    private void AssertRefused(HostileDaemon.Target target, string path, params Errno[] expected)
    {
        var errno = SetBacking(target, path);
        Assert.True(expected.Contains(errno), $"backing <- {path}: {errno}, expected {string.Join(" or ", expected)}");
        var read = Task.Run(() => File.ReadAllText(Path.Combine(target.Path, "backing")));
        Assert.True(read.Wait(Fast), "reading backing hung");
        Assert.DoesNotContain(path, read.Result);
    }

    [Fact]
    public void PathsOutsideTheDiskDirectoriesAreEacces()
    {
        Assert.True(d.HasDiskDirs, "this build has no disk-dirs option");
        using var target = d.Attackable("virtio", "virtio-blk");
        string secret = Path.Combine(_outside, "secret.img");
        File.WriteAllBytes(secret, new byte[1 << 20]);
        AssertRefused(target, secret, Errno.EACCES);
        AssertRefused(target, "/etc/shadow", Errno.EACCES);
        AssertRefused(target, "/dev/null", Errno.EACCES);
        d.AssertHealthy();
    }

    [Fact]
    public void DotDotAndSymlinksInThePathAreRefused()
    {
        using var target = d.Attackable("virtio", "virtio-blk");
        Directory.CreateDirectory(_mine);
        string secret = Path.Combine(_outside, "secret.img");
        File.WriteAllBytes(secret, new byte[1 << 20]);
        Shell.Run("/bin/chmod", "600", secret).AssertSuccess(); // root-only
        string name = Path.GetFileName(d.DiskDir);
        AssertRefused(target, Path.Combine(d.DiskDir, "..", Path.GetFileName(_outside), "secret.img"), Errno.EINVAL);
        AssertRefused(target, Path.Combine(d.DiskDir, "..", name, HostileDaemon.DiskImageName), Errno.EINVAL); // back inside, still refused
        File.CreateSymbolicLink(Path.Combine(_mine, "link.img"), secret);
        AssertRefused(target, Path.Combine(_mine, "link.img"), (Errno)ELOOP);
        Directory.CreateSymbolicLink(Path.Combine(_mine, "sub"), _outside);
        AssertRefused(target, Path.Combine(_mine, "sub", "secret.img"), (Errno)ELOOP);
        d.AssertHealthy();
    }

    [Fact]
    public void AnythingButARegularFileOrBlockDeviceIsEinvalAndAFifoNeverBlocks()
    {
        using var target = d.Attackable("virtio", "virtio-blk");
        Directory.CreateDirectory(_mine);
        string fifo = Path.Combine(_mine, "fifo.img");
        Shell.Run("/usr/bin/mkfifo", fifo).AssertSuccess();
        var errno = SetBacking(target, fifo, fifo);
        Assert.Equal(Errno.EINVAL, errno);
        Shell.Run("/usr/bin/mknod", Path.Combine(_mine, "null.img"), "c", "1", "3").AssertSuccess();
        AssertRefused(target, Path.Combine(_mine, "null.img"), Errno.EINVAL);
        Directory.CreateDirectory(Path.Combine(_mine, "dir.img"));
        AssertRefused(target, Path.Combine(_mine, "dir.img"), Errno.EINVAL, Errno.EISDIR);
        d.AssertHealthy();
    }

    /// <summary>
    /// A file on the daemon's own mount (here the device's own <c>backing</c>, by its real path: the mount is one
    /// of this daemon's disk directories) is EINVAL; unfixed, it deadlocks the daemon.
    /// </summary>
    [Fact]
    public void AFileOnTheDaemonsOwnMountIsEinval()
    {
        using var target = d.Attackable("virtio", "virtio-blk");
        string real = Directory.ResolveLinkTarget(target.Path, returnFinalTarget: true)?.FullName ?? target.Path;
        AssertRefused(target, Path.Combine(real, "backing"), Errno.EINVAL);
        AssertRefused(target, Path.Combine(d.Dir, "devices", "virtual"), Errno.EINVAL, Errno.EISDIR);
        d.AssertHealthy();
    }

    /// <summary>After every refusal, a good image in a disk directory still works, read-write unless <c>readonly</c> says otherwise.</summary>
    [Fact]
    public void AGoodImageServesAndReadonlyIsTheWritersChoice()
    {
        using var target = d.Attackable("virtio", "virtio-blk");
        Directory.CreateDirectory(_mine);
        string image = Path.Combine(_mine, "good.img");
        File.WriteAllBytes(image, new byte[1 << 20]);
        Assert.Equal(Errno.None, SetBacking(target, image));
        Assert.Equal(image + "\n", File.ReadAllText(Path.Combine(target.Path, "backing")));
        const ulong ReadOnlyFeature = 1 << 5; // VIRTIO_BLK_F_RO
        using (var ram = new GuestMemory())
        using (var driver = new VirtioTestDriver(VfioUserClient.Connect(target.Socket), ram))
        {
            driver.Start();
            Assert.Equal(0ul, driver.OfferedFeatures & ReadOnlyFeature);
            var data = new byte[512];
            data.AsSpan().Fill(0x5A);
            Assert.Equal(0, driver.Request(1, 3, data, writeToDevice: true).Status); // VIRTIO_BLK_T_OUT
            Assert.Equal(Errno.EBUSY, Posix.WriteOnce(Path.Combine(target.Path, "readonly"), "1\n"));
        }
        Assert.Equal(0x5A, File.ReadAllBytes(image)[3 * 512]);
        Assert.Equal("0\n", File.ReadAllText(Path.Combine(target.Path, "readonly")));
        Assert.Equal(Errno.None, Posix.WriteOnce(Path.Combine(target.Path, "readonly"), "on\n"));
        Assert.Equal("1\n", File.ReadAllText(Path.Combine(target.Path, "readonly")));
        using (var ram = new GuestMemory())
        using (var driver = new VirtioTestDriver(VfioUserClient.Connect(target.Socket), ram))
        {
            driver.Start();
            Assert.NotEqual(0ul, driver.OfferedFeatures & ReadOnlyFeature);
        }
        d.AssertHealthy();
    }
}
