using System.Text;
using Umdev.Core;
using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.Devices.VirtioBlk;

/// <summary>
/// The <c>virtio</c> parent's driver: type <c>virtio-blk</c>, a pool of disks, and each device's
/// <c>backing</c> attribute (the host file behind the disk, written before a VMM opens it).
/// </summary>
public sealed class VirtioBlkDriver : MdevDriver
{
    /// <summary>The one type: a virtio-blk disk (<c>virtio-blk</c>).</summary>
    public static readonly MdevTypeSpec BlkType = new("blk", "virtio-blk disk", VfioPci.DeviceApi);

    /// <summary>The device attribute naming the backing file.</summary>
    public const string BackingAttribute = "backing";

    /// <summary>The device attribute choosing a read-only (1) or read-write (0) disk.</summary>
    public const string ReadOnlyAttribute = "readonly";

    /// <summary>Where disks come from unless the parent is told otherwise.</summary>
    public const string DefaultDiskDirs = "/var/lib/umdev/disks";

    private readonly MdevCapacity _disks;

    /// <summary>
    /// A driver for at most <paramref name="disks"/> devices whose backing files lie beneath one of
    /// <paramref name="diskDirs"/> (absolute paths; default <see cref="DefaultDiskDirs"/>).
    /// </summary>
    public VirtioBlkDriver(int disks, IReadOnlyList<string>? diskDirs = null)
    {
        DiskDirs = diskDirs ?? [DefaultDiskDirs];
        foreach (string dir in DiskDirs)
            if (!dir.StartsWith('/')) throw new ArgumentException($"disk directory '{dir}' is not an absolute path", nameof(diskDirs));
        _disks = new MdevCapacity(disks);
        ParentSpec = new MdevParentSpec("virtio", "devices/virtual/virtio/virtio", "virtio", "virtio", [BlkType]);
    }

    /// <inheritdoc/>
    public override string Name => "virtio_blk_mdev";

    /// <summary>The directories backing files may come from.</summary>
    public IReadOnlyList<string> DiskDirs { get; }

    /// <summary>The parent the driver serves.</summary>
    public MdevParentSpec ParentSpec { get; }

    /// <inheritdoc/>
    public override int GetAvailableInstances(MdevType type) => _disks.Available;

    /// <inheritdoc/>
    public override string? GetDescription(MdevType type) =>
        "a virtio-blk disk; write the backing file's absolute path (in one of the disk directories) to the device's 'backing' attribute before use, and 1 to 'readonly' first for a read-only disk\n";

    /// <inheritdoc/>
    public override void Probe(MdevDevice mdev)
    {
        _disks.Take(1, "virtio-blk disks");
        try
        {
            var disk = new VirtioBlkDevice(mdev.Uuid, DiskDirs);
            var vfio = new VfioDevice(mdev.Name, disk);
            disk.Bind(vfio);
            mdev.DriverData = vfio;
        }
        catch
        {
            _disks.Give(1);
            throw;
        }
    }

    /// <inheritdoc/>
    public override void Remove(MdevDevice mdev)
    {
        if (mdev.DriverData is not VfioDevice { Ops: VirtioBlkDevice disk } vfio) return;
        vfio.Unregister();
        disk.Release();
        mdev.DriverData = null;
        _disks.Give(1);
    }

    /// <summary>
    /// The device's <c>backing</c> (shows the path, a write sets it; a trailing newline is dropped) and
    /// <c>readonly</c> (0 or 1; kstrtobool words are accepted) attributes.
    /// </summary>
    public override IReadOnlyList<MdevAttributeGroup> GetDeviceAttributeGroups(MdevDevice mdev)
    {
        if (mdev.DriverData is not VfioDevice { Ops: VirtioBlkDevice disk }) return [];
        return
        [
            new MdevAttributeGroup(null,
            [
                new MdevAttribute(BackingAttribute, MdevAttribute.ReadWrite,
                    () => (disk.BackingPath ?? "") + "\n",
                    written => disk.SetBacking(Encoding.UTF8.GetString(written).TrimEnd('\n'))),
                new MdevAttribute(ReadOnlyAttribute, MdevAttribute.ReadWrite,
                    () => disk.ReadOnly ? "1\n" : "0\n",
                    written => disk.SetReadOnly(SysfsNumber.ParseBool(written))),
            ]),
        ];
    }
}
