namespace Umdev.Hostile.Tests;

/// <summary>Issue 17 item 5: who can reach a socket is decided by modes; they are the tightest that work, whatever was there before.</summary>
[Collection(HostileCollection.Name)]
public sealed class ModeTests(HostileDaemon daemon)
{
    private readonly HostileDaemon d = daemon.Revived();

    private static string Mode(string path) => Shell.Run("/usr/bin/stat", "-c", "%a", path).AssertSuccess().Stdout.Trim();

    [Fact]
    public void TheSocketDirectoryAndEveryDeviceFolderAre0700AndTheSockets0600()
    {
        Assert.Equal("700", Mode(d.SocketDir)); // the fixture left it 0755 before the daemon started
        var uuid = Guid.NewGuid();
        string folder = Path.GetDirectoryName(d.DisplayPath(uuid))!;
        Directory.CreateDirectory(folder); // a folder left behind with a wider mode
        Shell.Run("/bin/chmod", "755", folder).AssertSuccess();
        using (var target = d.Attackable("mbochs", "mbochs-small", uuid))
        {
            Assert.Equal("700", Mode(folder));
            Assert.Equal("600", Mode(target.Display));
        }
        foreach (var device in new[] { d.Mtty, d.Mbochs, d.Disk })
        {
            Assert.Equal("700", Mode(Path.GetDirectoryName(d.DisplayPath(device))!));
            Assert.Equal("600", Mode(Path.Combine(Path.GetDirectoryName(d.DisplayPath(device))!, "vfio-user.sock")));
        }
        d.AssertHealthy();
    }
}
