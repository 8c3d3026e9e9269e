using Umdev.Core;
using Umdev.Interop;

namespace Umdev.Sysfs.Tests;

/// <summary>Start-up errors and the layers that add attribute groups to a device.</summary>
public class MountLifecycleTests
{
    [Fact]
    public void SecondMountOnTheSameDirectoryIsRefusedAndTheFirstKeepsServing()
    {
        using var t = new MountedTree();
        var e = Assert.Throws<ErrnoException>(() => SysfsMount.Start(t.Core, t.Dir));
        Assert.Equal(Errno.EBUSY, e.Errno);
        Assert.Contains("another umdev daemon", e.Message);
        Assert.Equal("24\n", t.Available("mtty-1"));
    }

    [Fact]
    public void MissingMountPointIsReported()
    {
        var e = Assert.Throws<ErrnoException>(() => SysfsMount.Start(new MdevCore(), "/nonexistent/umdev-sys"));
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public void DisposeUnmounts()
    {
        var t = new MountedTree();
        t.Dispose();
        Assert.Null(MountTable.FileSystemAt(t.Dir));
    }

    [Fact]
    public void AttributeGroupsAddedByOtherLayersAppearAndGo()
    {
        using var t = new MountedTree();
        var mdev = t.Core.Create(t.Parent.FindType("mtty-1")!, Guid.NewGuid());
        string dir = Path.Combine(t.DeviceDir(mdev.Name), "vfio-user");
        Assert.False(Directory.Exists(dir));
        var group = new MdevAttributeGroup("vfio-user", [MdevAttribute.Text("socket", () => $"/run/umdev/vfio-user/{mdev.Name}\n")]);
        mdev.AddAttributeGroup(group);
        Assert.Equal($"/run/umdev/vfio-user/{mdev.Name}\n", File.ReadAllText(Path.Combine(dir, "socket")));
        mdev.RemoveAttributeGroup(group);
        Assert.False(Directory.Exists(dir));
    }

    [Fact]
    public void ASecondMountThroughASymlinkedPathIsRefusedToo()
    {
        using var t = new MountedTree();
        string link = Path.Combine(Path.GetTempPath(), $"umdev-link-{Guid.NewGuid():N}");
        File.CreateSymbolicLink(link, Path.GetDirectoryName(t.Dir)!);
        try
        {
            var e = Assert.Throws<ErrnoException>(() => SysfsMount.Start(t.Core, Path.Combine(link, Path.GetFileName(t.Dir))));
            Assert.Equal(Errno.EBUSY, e.Errno);
            // The symlinked path was resolved to the mounted directory and refused by the mount check.
            Assert.Contains($"mount point {t.Dir} is busy: another umdev daemon is serving it", e.Message);
        }
        finally
        {
            File.Delete(link);
        }
    }
}
