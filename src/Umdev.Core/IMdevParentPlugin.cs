namespace Umdev.Core;

/// <summary>
/// A vendor driver as the daemon loads it (the kernel's module init and exit for one parent): it names
/// itself, declares its options, registers its parent with the core and unregisters it again.
/// </summary>
public interface IMdevParentPlugin
{
    /// <summary>The name the daemon is told, e.g. <c>mtty</c> in <c>--parent mtty:ports=24</c>.</summary>
    string Name { get; }

    /// <summary>One line saying what the parent is.</summary>
    string Description { get; }

    /// <summary>
    /// Every option the plug-in accepts. Unknown keys and values not of the declared kind and range are
    /// refused when the options are parsed, before <see cref="Register"/> runs.
    /// </summary>
    IReadOnlyList<MdevParentOptionSpec> Options { get; }

    /// <summary>Registers the parent (and its driver) with <paramref name="core"/>.</summary>
    MdevParent Register(MdevCore core, MdevParentOptions options);

    /// <summary>Removes every device of the parent, then the parent and its driver.</summary>
    void Unregister(MdevCore core, MdevParent parent);
}
