using Umdev.Core;

namespace Umdev.Sysfs;

/// <summary>
/// One entry of the tree, built on demand from the core's state for a single request and then dropped,
/// so nothing the filesystem shows can go stale. <see cref="Path"/> is relative to the mount (the "/sys").
/// </summary>
public abstract class SysfsEntry
{
    protected SysfsEntry(string path) => Path = path;

    public string Path { get; }

    public string Name => SysfsPath.BaseName(Path);
}

/// <summary>An attribute file: sysfs calls its show on read and its store on write.</summary>
public sealed class SysfsFile : SysfsEntry
{
    public SysfsFile(string path, MdevAttribute attribute, Func<bool>? alive = null) : base(path)
    {
        Attribute = attribute;
        _alive = alive;
    }

    private readonly Func<bool>? _alive;

    public MdevAttribute Attribute { get; }

    /// <summary>False once the owner (device, parent) is gone: open files then fail with ENODEV, as kernfs does.</summary>
    public bool IsAlive => _alive?.Invoke() ?? true;
}

/// <summary>A symbolic link with the relative target sysfs gives it.</summary>
public sealed class SysfsLink : SysfsEntry
{
    private readonly string _targetPath;

    /// <param name="targetPath">The absolute (mount-relative) path the link points at.</param>
    public SysfsLink(string path, string targetPath) : base(path) => _targetPath = targetPath;

    /// <summary>The relative link text, computed only when read (listing a directory of links needs none).</summary>
    public string Target => SysfsPath.RelativeLink(Path, _targetPath);
}

/// <summary>A directory; its children are computed on every call.</summary>
public sealed class SysfsDirectory : SysfsEntry
{
    private readonly Func<SysfsDirectory, IEnumerable<SysfsEntry>> _children;
    private readonly Func<SysfsDirectory, string, SysfsEntry?>? _lookup;
    private readonly Func<int>? _subdirectories;

    /// <param name="lookup">A direct lookup for large directories (devices by UUID); linear search otherwise.</param>
    /// <param name="subdirectories">A direct count of sub-directories for large directories; counted from the children otherwise.</param>
    public SysfsDirectory(string path, Func<SysfsDirectory, IEnumerable<SysfsEntry>> children,
        Func<SysfsDirectory, string, SysfsEntry?>? lookup = null, Func<int>? subdirectories = null) : base(path)
    {
        _children = children;
        _lookup = lookup;
        _subdirectories = subdirectories;
    }

    /// <summary>What the link count (2 + sub-directories) needs, asked on every stat.</summary>
    public int SubdirectoryCount => _subdirectories?.Invoke() ?? Children.Count(c => c is SysfsDirectory);

    public IEnumerable<SysfsEntry> Children => _children(this);

    public SysfsEntry? Lookup(string name) =>
        _lookup is not null ? _lookup(this, name) : Children.FirstOrDefault(c => c.Name == name);

    public string Child(string name) => SysfsPath.Combine(Path, name);
}
