using Microsoft.Extensions.Logging;
using Umdev.Core;
using Umdev.Devices.Mtty;

namespace Umdev.Sysfs.Tests;

/// <summary>A core with the mtty parent, its tree mounted on a fresh temporary directory.</summary>
public sealed class MountedTree : IDisposable
{
    public const string ParentDir = "devices/virtual/mtty/mtty";

    public MountedTree(int ports = 24, ILogger? logger = null)
    {
        Core = new MdevCore();
        Parent = Mtty.Register(Core, new MttyOptions(ports));
        Dir = Directory.CreateTempSubdirectory("umdev-sysfs-").FullName;
        try
        {
            Mount = SysfsMount.Start(Core, Dir, logger);
        }
        catch
        {
            Mtty.Unregister(Core, Parent);
            Directory.Delete(Dir);
            throw;
        }
    }

    public MdevCore Core { get; }
    public MdevParent Parent { get; }
    public string Dir { get; }
    public SysfsMount Mount { get; }

    public string PathOf(string relative) => Path.Combine(Dir, relative);

    public string TypeDir(string type) => PathOf($"{ParentDir}/mdev_supported_types/{type}");

    public string DeviceDir(string uuid) => PathOf($"{ParentDir}/{uuid}");

    public string Available(string type) => File.ReadAllText(Path.Combine(TypeDir(type), "available_instances"));

    public void Dispose()
    {
        Mount.Dispose();
        Mtty.Unregister(Core, Parent);
        try { Directory.Delete(Dir); } catch (IOException) { }
    }
}
