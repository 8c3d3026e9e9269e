using System.Text;
using Umdev.Interop;

namespace Umdev.Hostile.Tests;

/// <summary>A tree writer's junk and races: clear errors, no device half made, the daemon and every other device untouched.</summary>
[Collection(HostileCollection.Name)]
public sealed class SysfsJunkTests(HostileDaemon daemon)
{
    private readonly HostileDaemon d = daemon.Revived();

    private string[] Devices() => Directory.GetDirectories(Path.Combine(d.Dir, "bus/mdev/devices")).Select(Path.GetFileName).Order().ToArray()!;

    [Fact]
    public void JunkInCreateRemoveAndAttributesIsRefusedWithTheKernelsErrno()
    {
        var before = Devices();
        string create = d.CreatePath("mtty", "mtty-1");
        byte[] huge = Encoding.ASCII.GetBytes(new string('7', 1 << 20));
        foreach (var junk in new[] { Encoding.ASCII.GetBytes("not-a-uuid\n"), huge, new byte[64], "\0\0\0\0"u8.ToArray(),
                     Encoding.ASCII.GetBytes(Guid.NewGuid() + "\0garbage"), Encoding.ASCII.GetBytes("{" + Guid.NewGuid() + "}x\n") })
        {
            var errno = Posix.WriteOnce(create, junk);
            Assert.True(errno is Errno.EINVAL or Errno.E2BIG or Errno.EFBIG or Errno.EMSGSIZE, $"create <- {junk.Length} junk bytes: {errno}");
        }
        // A UUID in two writes: each write is a store of its own (as sysfs), and neither half is a UUID.
        string uuid = Guid.NewGuid().ToString();
        Assert.Equal([Errno.EINVAL, Errno.EINVAL], Posix.WritePieces(create, Encoding.ASCII.GetBytes(uuid[..13]), Encoding.ASCII.GetBytes(uuid[13..] + "\n")));
        Assert.Equal(before, Devices());

        using var target = d.Attackable("virtio", "virtio-blk");
        // remove parses as kstrtoul: any nonzero number removes, "0" does nothing, the rest is EINVAL (ERANGE past a long).
        foreach (var junk in new[] { "\0\0\0", "-1\n", "yes please\n", new string('1', 100_000) })
        {
            var errno = Posix.WriteOnce(Path.Combine(target.Path, "remove"), junk);
            Assert.True(errno is Errno.EINVAL or Errno.ERANGE or Errno.E2BIG or Errno.EFBIG, $"remove <- {junk[..Math.Min(12, junk.Length)]}: {errno}");
        }
        Assert.Equal(Errno.None, Posix.WriteOnce(Path.Combine(target.Path, "remove"), "0\n"));
        foreach (var junk in new[] { "\0/etc/passwd", new string('/', 1 << 16), "/" + new string('a', 5000) })
            Assert.NotEqual(Errno.None, Posix.WriteOnce(Path.Combine(target.Path, "backing"), junk));
        if (File.Exists(Path.Combine(target.Path, "readonly")))
            foreach (var junk in new[] { "\0", "2\n", "maybe\n", "x" + new string('y', 100_000) })
                Assert.True(Posix.WriteOnce(Path.Combine(target.Path, "readonly"), junk) == Errno.EINVAL, $"readonly <- {junk[..Math.Min(12, junk.Length)]} accepted");
        Assert.True(Directory.Exists(target.Path));

        // Read-only files: the kernel refuses the open for writing (EACCES), even to root.
        foreach (string ro in new[] { Path.Combine(target.Path, "mdev_type/name"), Path.Combine(target.Path, "mdev_type/available_instances"),
                     Path.Combine(d.Dir, "class/mdev_bus/mtty/mdev_supported_types/mtty-1/device_api") })
            Assert.Equal(Errno.EACCES, Posix.WriteOnce(ro, "1\n"));
        d.AssertHealthy();
    }

    [Fact]
    public void TwoHundredConcurrentCreatesAndRemovesOfRandomUuidsLeaveNothingBehind()
    {
        var before = Devices();
        string available = Path.Combine(d.Dir, "class/mdev_bus/mtty/mdev_supported_types/mtty-1/available_instances");
        string free = File.ReadAllText(available);
        var unexpected = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 200, new ParallelOptions { MaxDegreeOfParallelism = 16 }, _ =>
        {
            var uuid = Guid.NewGuid();
            var created = Posix.WriteOnce(d.CreatePath("mtty", "mtty-1"), uuid + "\n");
            if (created is not (Errno.None or Errno.ENOSPC)) unexpected.Add($"create {created}");
            if (created != Errno.None) return;
            var removed = Posix.WriteOnce(Path.Combine(d.DevicePath(uuid), "remove"), "1\n");
            if (removed != Errno.None) unexpected.Add($"remove {removed}");
        });
        Assert.Empty(unexpected);
        Assert.Equal(before, Devices());
        Assert.Equal(free, File.ReadAllText(available));
        d.AssertHealthy();
    }

    /// <summary>
    /// Issue 17 item 4: create racing remove of one UUID. After every round the device is either wholly there
    /// (its socket serves it, <c>vfio-user/socket</c> names it) or wholly gone (no socket left).
    /// </summary>
    [Fact]
    public void CreateRacingRemoveOfOneUuidNeverLeavesABrokenDevice()
    {
        var uuid = Guid.NewGuid();
        string create = d.CreatePath("mtty", "mtty-1"), remove = Path.Combine(d.DevicePath(uuid), "remove");
        var broken = new List<string>();
        for (int round = 0; round < 200 && broken.Count < 5; round++)
        {
            using var go = new Barrier(2);
            var creator = Task.Run(() => { go.SignalAndWait(); return Posix.WriteOnce(create, uuid + "\n"); });
            var remover = Task.Run(() => { go.SignalAndWait(); return Posix.WriteOnce(remove, "1\n"); });
            Task.WaitAll(creator, remover);
            if (Directory.Exists(d.DevicePath(uuid)))
            {
                string? problem = null;
                try
                {
                    HostileDaemon.WaitFor(() => File.Exists(d.SocketPath(uuid)), "socket");
                    if (!File.Exists(Path.Combine(d.DevicePath(uuid), "vfio-user/socket"))) problem = "vfio-user/socket missing";
                    using var vmm = Umdev.VfioUser.Client.VfioUserClient.Connect(d.SocketPath(uuid));
                    vmm.GetInfo();
                }
                catch (Exception e) when (e is ErrnoException or IOException or TimeoutException) { problem = e.Message; }
                if (problem is not null) broken.Add($"round {round} (create {creator.Result}, remove {remover.Result}): {problem}");
                Posix.WriteOnce(remove, "1\n");
            }
            if (!SpinWait.SpinUntil(() => !File.Exists(d.SocketPath(uuid)), TimeSpan.FromSeconds(5)))
                broken.Add($"round {round}: the socket outlived the device");
        }
        Assert.Empty(broken);
        d.AssertHealthy();
    }
}
