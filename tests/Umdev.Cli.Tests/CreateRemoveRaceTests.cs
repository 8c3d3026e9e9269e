using System.Diagnostics;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.VfioUser;
using Umdev.VfioUser.Client;

namespace Umdev.Cli.Tests;

/// <summary>
/// <c>echo UUID &gt; create</c> racing <c>echo 1 &gt; remove</c> of the same UUID through a real <c>umdev serve</c>'s
/// mount (1,000 rounds; the same race in-process is in the vfio-user tests): after every round the device is either
/// wholly there (directory, <c>vfio-user/socket</c>, a socket serving it) or wholly gone.
/// </summary>
public class CreateRemoveRaceTests
{
    private const int Rounds = 1000;

    [Fact]
    public void Create_racing_remove_through_the_mount_never_leaves_a_broken_device()
    {
        using var daemon = Daemon.Start(extra: ["--parent", "mtty:ports=2"]);
        var uuid = Guid.NewGuid();
        string name = uuid.ToString();
        string typeDir = Path.Combine(daemon.Dir, "class/mdev_bus/mtty/mdev_supported_types/mtty-2");
        string deviceDir = Path.Combine(daemon.Dir, "bus/mdev/devices", name);
        int present = 0, absent = 0;
        var unexpected = new List<string>();
        var clock = Stopwatch.StartNew();
        for (int round = 0; round < Rounds; round++)
        {
            var rng = new Random(round);
            int createDelay = rng.Next(2000), removeDelay = rng.Next(2000);
            using var start = new Barrier(2);
            var creator = new Thread(() =>
            {
                start.SignalAndWait();
                Thread.SpinWait(createDelay);
                try { AttributeFile.Write(Path.Combine(typeDir, "create"), name); }
                catch (ErrnoException e) when (e.Errno == Errno.EEXIST) { }
                catch (ErrnoException e) { lock (unexpected) unexpected.Add($"create: {e.Message}"); }
            });
            var remover = new Thread(() =>
            {
                start.SignalAndWait();
                Thread.SpinWait(removeDelay);
                try { AttributeFile.Write(Path.Combine(deviceDir, "remove"), "1"); }
                catch (ErrnoException e) when (e.Errno is Errno.ENOENT or Errno.ENODEV) { }
                catch (ErrnoException e) { lock (unexpected) unexpected.Add($"remove: {e.Message}"); }
            });
            creator.Start();
            remover.Start();
            creator.Join();
            remover.Join();
            Assert.Empty(unexpected);
            if (WholeOrGone(daemon, typeDir, deviceDir, uuid, round)) present++;
            else absent++;
        }
        Assert.True(present > 0 && absent > 0, $"present {present}, absent {absent}");
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(60));
    }

    /// <summary>True if the device is fully there; asserts it is fully gone otherwise.</summary>
    private static bool WholeOrGone(Daemon daemon, string typeDir, string deviceDir, Guid uuid, int round)
    {
        string link = VfioUserService.SocketPathFor(daemon.SocketDir, uuid);
        string available = File.ReadAllText(Path.Combine(typeDir, "available_instances"));
        if (Directory.Exists(deviceDir))
        {
            string socketFile = Path.Combine(deviceDir, "vfio-user", "socket");
            Assert.True(File.Exists(socketFile), $"round {round}: device without vfio-user/socket");
            Assert.Equal(link + "\n", File.ReadAllText(socketFile));
            Assert.Equal("0\n", available);
            using var client = VfioUserClient.Connect(link); // VERSION opens the device: it is live
            Span<byte> id = stackalloc byte[2];
            Assert.Equal(2, client.ReadRegion(VfioPci.ConfigRegionIndex, 0, id));
            Assert.Equal(new byte[] { 0x48, 0x43 }, id.ToArray()); // mtty's vendor ID
            return true;
        }
        Assert.False(Path.Exists(link) || new FileInfo(link).LinkTarget is not null, $"round {round}: socket link left");
        Assert.False(Directory.Exists(VfioUserService.DeviceDirectoryFor(daemon.SocketDir, uuid)), $"round {round}: socket folder left");
        Assert.Equal("1\n", available);
        return false;
    }
}
