namespace Umdev.Core;

/// <summary>Handler of a write to an attribute; throws <see cref="Interop.ErrnoException"/> to fail the write.</summary>
public delegate void MdevAttributeStore(ReadOnlySpan<byte> written);

/// <summary>
/// One sysfs attribute file: its mode and how it is shown and stored. Content is computed on every
/// read, as sysfs calls the <c>show</c> callback on every open.
/// </summary>
public sealed class MdevAttribute
{
    /// <summary>An attribute named <paramref name="name"/> with file mode <paramref name="mode"/>; reads call <paramref name="show"/>, writes <paramref name="store"/> (either may be absent).</summary>
    public MdevAttribute(string name, UnixFileMode mode, Func<string>? show = null, MdevAttributeStore? store = null)
    {
        Name = name;
        Mode = mode;
        Show = show;
        Store = store;
    }

    /// <summary>The file name.</summary>
    public string Name { get; }
    /// <summary>The file mode sysfs shows (<see cref="ReadOnly"/>, <see cref="WriteOnly"/>, <see cref="ReadWrite"/>).</summary>
    public UnixFileMode Mode { get; }
    /// <summary>Computes the content on every read (include the trailing newline, as sysfs files do).</summary>
    public Func<string>? Show { get; }
    /// <summary>Handles a write; null for a file that cannot be written.</summary>
    public MdevAttributeStore? Store { get; }

    /// <summary>0444, the mode of a read-only attribute.</summary>
    public const UnixFileMode ReadOnly = UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    /// <summary>0200, the mode of <c>create</c> and <c>remove</c>.</summary>
    public const UnixFileMode WriteOnly = UnixFileMode.UserWrite;
    /// <summary>0644.</summary>
    public const UnixFileMode ReadWrite = ReadOnly | UnixFileMode.UserWrite;

    /// <summary>A read-only attribute showing <paramref name="show"/>()'s text.</summary>
    public static MdevAttribute Text(string name, Func<string> show) => new(name, ReadOnly, show);
}

/// <summary>A named group of attributes (a sub-directory in sysfs); a null name puts them in the owner's directory.</summary>
public sealed record MdevAttributeGroup(string? Name, IReadOnlyList<MdevAttribute> Attributes);
