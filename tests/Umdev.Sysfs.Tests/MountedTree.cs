using Umdev.Core;

namespace Umdev.Sysfs.Tests;

/// <summary>A core with the fake serial parent, its tree mounted on a fresh temporary directory.</summary>
public sealed class MountedTree : IDisposable
{
    public MountedTree(int ports = 24)
    {
        Core = new MdevCore();
        Parent = FakeSerialDriver.Register(Core, ports);
        Dir = Directory.CreateTempSubdirectory("umdev-sysfs-").FullName;
        Mount = SysfsMount.Start(Core, Dir);
    }

    public MdevCore Core { get; }
    public MdevParent Parent { get; }
    public string Dir { get; }
    public SysfsMount Mount { get; }

    public const string ParentDir = "devices/virtual/mtty/mtty";

    public string PathOf(string relative) => Path.Combine(Dir, relative);

    public string TypeDir(string type) => PathOf($"{ParentDir}/mdev_supported_types/{type}");

    public void Dispose()
    {
        Mount.Dispose();
        try { Directory.Delete(Dir); } catch (IOException) { }
    }
}
