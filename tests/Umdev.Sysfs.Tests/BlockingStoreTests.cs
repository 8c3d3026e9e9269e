using System.Diagnostics;
using Umdev.Core;

namespace Umdev.Sysfs.Tests;

/// <summary>A store may block (removal of a device a VMM holds open waits for the close): the rest of the tree keeps answering.</summary>
public class BlockingStoreTests
{
    [Fact]
    public void ABlockedStoreDoesNotBlockOtherRequests()
    {
        using var t = new MountedTree();
        var mdev = t.Core.Create(t.Parent.FindType("mtty-1")!, Guid.NewGuid());
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        mdev.AddAttributeGroup(new MdevAttributeGroup("test", [new MdevAttribute("hold", MdevAttribute.WriteOnly, store: _ =>
        {
            entered.Set();
            release.Wait();
        })]));
        var psi = new ProcessStartInfo("/bin/bash", ["-c", $"echo 1 > {t.DeviceDir(mdev.Name)}/test/hold"]) { UseShellExecute = false };
        using var writer = Process.Start(psi)!;
        try
        {
            Assert.True(entered.Wait(TimeSpan.FromSeconds(60)), "the store was never called");
            // Several requests while one thread is held: lookups, reads, even another create.
            Assert.Equal("23\n", t.Available("mtty-1"));
            File.WriteAllText(Path.Combine(t.TypeDir("mtty-2"), "create"), Guid.NewGuid().ToString());
            Assert.Equal(2, Directory.GetFileSystemEntries(t.PathOf("bus/mdev/devices")).Length);
            Assert.False(writer.HasExited);
        }
        finally
        {
            release.Set();
        }
        Assert.True(writer.WaitForExit(60_000));
        Assert.Equal(0, writer.ExitCode);
    }
}
