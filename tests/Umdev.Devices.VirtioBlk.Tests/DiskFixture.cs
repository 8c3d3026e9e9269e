using Microsoft.Extensions.Logging.Abstractions;
using Umdev.Core;
using Umdev.Vfio;
using Umdev.VfioUser.Client;
using Umdev.VfioUser;

namespace Umdev.Devices.VirtioBlk.Tests;

/// <summary>
/// A virtio parent served for real: an in-process core with the plug-in, a vfio-user service on a
/// temporary socket directory, backing files in a temporary directory, and C# guest drivers on the sockets.
/// </summary>
public sealed class DiskFixture : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("umdev-vblk-").FullName;
    private readonly List<IDisposable> _owned = [];

    /// <param name="moreDiskDirs">Disk directories besides the fixture's own temporary one (colon-separated).</param>
    public DiskFixture(string? moreDiskDirs = null)
    {
        var plugin = new VirtioParentPlugin();
        string dirs = moreDiskDirs is null ? _dir : $"{_dir}:{moreDiskDirs}";
        Parent = plugin.Register(Core, MdevParentOptions.Parse(plugin, $"disks=4,disk-dirs={dirs}"));
        Service = new VfioUserService(Core, SocketDir, NullLoggerFactory.Instance);
    }

    public MdevCore Core { get; } = new();
    public MdevParent Parent { get; }
    public VfioUserService Service { get; }
    public string SocketDir => Path.Combine(_dir, "sock");

    /// <summary>The temporary directory holding the backing files: the parent's disk directory.</summary>
    public string Dir => _dir;
    public MdevType Type => Parent.FindType("virtio-blk")!;

    /// <summary>A backing file of <paramref name="bytes"/> filled with a pattern derived from <paramref name="seed"/>.</summary>
    public string Backing(long bytes, int seed = 1, string? name = null)
    {
        string path = Path.Combine(_dir, name ?? $"disk-{Guid.NewGuid():N}.img");
        var data = new byte[bytes];
        new Random(seed).NextBytes(data);
        File.WriteAllBytes(path, data);
        return path;
    }

    public MdevDevice Create(string? backing)
    {
        var mdev = Core.Create(Type, Guid.NewGuid());
        if (backing is not null) Disk(mdev).SetBacking(backing);
        return mdev;
    }

    internal static VirtioBlkDevice Disk(MdevDevice mdev) => (VirtioBlkDevice)((VfioDevice)mdev.DriverData!).Ops;

    public VirtioTestDriver Connect(MdevDevice mdev)
    {
        var ram = new GuestMemory();
        _owned.Add(ram);
        var client = VfioUserClient.Connect(VfioUserService.SocketPathFor(SocketDir, mdev.Uuid));
        var driver = new VirtioTestDriver(client, ram);
        _owned.Add(driver);
        return driver;
    }

    public void Dispose()
    {
        for (int i = _owned.Count - 1; i >= 0; i--) _owned[i].Dispose();
        Service.Dispose();
        foreach (var p in Core.Parents.ToArray()) new VirtioParentPlugin().Unregister(Core, p);
        Directory.Delete(_dir, true);
    }
}
