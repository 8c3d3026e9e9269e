namespace Umdev.Core;

/// <summary>Handler of a write to an attribute; throws <see cref="Interop.ErrnoException"/> to fail the write.</summary>
public delegate void MdevAttributeStore(ReadOnlySpan<byte> written);

/// <summary>
/// One sysfs attribute file: its mode and how it is shown and stored. Content is computed on every
/// read, as sysfs calls the <c>show</c> callback on every open.
/// </summary>
public sealed class MdevAttribute
{
    public MdevAttribute(string name, UnixFileMode mode, Func<string>? show = null, MdevAttributeStore? store = null)
    {
        Name = name;
        Mode = mode;
        Show = show;
        Store = store;
    }

    public string Name { get; }
    public UnixFileMode Mode { get; }
    public Func<string>? Show { get; }
    public MdevAttributeStore? Store { get; }

    public const UnixFileMode ReadOnly = UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    public const UnixFileMode WriteOnly = UnixFileMode.UserWrite;
    public const UnixFileMode ReadWrite = ReadOnly | UnixFileMode.UserWrite;

    public static MdevAttribute Text(string name, Func<string> show) => new(name, ReadOnly, show);
}

/// <summary>A named group of attributes (a sub-directory in sysfs); a null name puts them in the owner's directory.</summary>
public sealed record MdevAttributeGroup(string? Name, IReadOnlyList<MdevAttribute> Attributes);
