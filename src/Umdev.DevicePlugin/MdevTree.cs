using Umdev.Interop;

namespace Umdev.DevicePlugin;

/// <summary>One mdev type of one parent, as the mounted tree shows it.</summary>
/// <param name="Directory">Its <c>mdev_supported_types/&lt;type&gt;</c> directory.</param>
public sealed record MdevTypeDir(string Parent, string Type, string Directory);

/// <summary>
/// A running <c>umdev serve</c> seen only through its mounted sysfs tree, as a person with a shell sees it:
/// the types under <c>class/mdev_bus/*/mdev_supported_types</c>, <c>create</c> and <c>remove</c> writes, and
/// each device's <c>vfio-user/socket</c> attribute. Failed writes are <see cref="ErrnoException"/>s with the
/// errno the tree returned.
/// </summary>
public sealed class MdevTree(string sysfs)
{
    /// <summary>The mount point.</summary>
    public string Root { get; } = Path.GetFullPath(sysfs);

    private string BusDir => Path.Combine(Root, "class", "mdev_bus");

    /// <summary>Whether the tree answers (a dead daemon's FUSE mount answers ENOTCONN, an unmounted one is empty).</summary>
    public bool IsServing => Directory.Exists(BusDir);

    /// <summary>Every type of every parent, ordered by parent then type; empty while the tree does not answer.</summary>
    public IReadOnlyList<MdevTypeDir> Types()
    {
        var types = new List<MdevTypeDir>();
        try
        {
            foreach (string parent in Directory.GetDirectories(BusDir).Order(StringComparer.Ordinal))
            {
                string supported = Path.Combine(parent, "mdev_supported_types");
                if (!Directory.Exists(supported)) continue;
                foreach (string type in Directory.GetDirectories(supported).Order(StringComparer.Ordinal))
                    types.Add(new MdevTypeDir(Path.GetFileName(parent), Path.GetFileName(type), type));
            }
        }
        catch (IOException) { return []; }
        return types;
    }

    /// <summary>The type's <c>available_instances</c>, or null while it cannot be read.</summary>
    public static int? AvailableInstances(MdevTypeDir type)
    {
        try { return int.Parse(File.ReadAllText(Path.Combine(type.Directory, "available_instances")).Trim()); }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>How many devices of the type its parent has (the type's <c>devices/</c> links); 0 while it cannot be read.</summary>
    public static int DeviceCount(MdevTypeDir type)
    {
        try { return Directory.GetFileSystemEntries(Path.Combine(type.Directory, "devices")).Length; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return 0; }
    }

    /// <summary>Writes <paramref name="uuid"/> to the type's <c>create</c>.</summary>
    public static void Create(MdevTypeDir type, Guid uuid) => AttributeFile.Write(Path.Combine(type.Directory, "create"), Name(uuid));

    /// <summary>Writes <c>1</c> to the device's <c>remove</c>; false if there was no such device.</summary>
    public bool Remove(Guid uuid)
    {
        try { AttributeFile.Write(Path.Combine(DevicePath(uuid), "remove"), "1"); return true; }
        catch (ErrnoException e) when (e.Errno == Errno.ENOENT) { return false; }
    }

    /// <summary>Whether the device exists.</summary>
    public bool Exists(Guid uuid) => Directory.Exists(DevicePath(uuid));

    /// <summary>
    /// The device's vfio-user socket with links resolved (the daemon shows <c>&lt;dir&gt;/&lt;uuid&gt;.sock</c>,
    /// a link into the device's own folder), or null if the device, its attribute or the socket is not there.
    /// </summary>
    public string? SocketOf(Guid uuid)
    {
        try
        {
            string shown = File.ReadAllText(Path.Combine(DevicePath(uuid), "vfio-user", "socket")).Trim();
            string socket = File.ResolveLinkTarget(shown, returnFinalTarget: true)?.FullName ?? shown;
            return File.Exists(socket) ? socket : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>The lower-case text form the tree uses for a UUID.</summary>
    public static string Name(Guid uuid) => uuid.ToString("D");

    private string DevicePath(Guid uuid) => Path.Combine(Root, "bus", "mdev", "devices", Name(uuid));
}
