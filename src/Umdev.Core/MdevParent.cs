namespace Umdev.Core;

/// <summary>A registered parent device and its types (kernel <c>struct mdev_parent</c>).</summary>
public sealed class MdevParent
{
    // Creates and removes hold it shared; unregistration holds it exclusively, as the kernel's unreg_sem.
    internal readonly ReaderWriterLockSlim UnregisterLock = new(LockRecursionPolicy.SupportsRecursion);
    internal volatile bool Unregistering;

    internal MdevParent(MdevCore core, MdevParentSpec spec, MdevDriver driver)
    {
        Core = core;
        Spec = spec;
        Driver = driver;
        Types = spec.Types.Select(t => new MdevType(this, t)).ToArray();
    }

    /// <summary>The core it is registered with.</summary>
    public MdevCore Core { get; }
    /// <summary>What the vendor driver declared.</summary>
    public MdevParentSpec Spec { get; }
    /// <summary>The driver its devices are bound to.</summary>
    public MdevDriver Driver { get; }
    /// <summary>The parent's device name, e.g. <c>mtty</c>.</summary>
    public string Name => Spec.Name;
    /// <summary>Its types, in declaration order.</summary>
    public IReadOnlyList<MdevType> Types { get; }

    /// <summary>True once unregistration has begun: creates then fail with ENODEV.</summary>
    public bool IsUnregistering => Unregistering;

    /// <summary>The type with id <paramref name="id"/> (e.g. <c>mtty-2</c>), or null.</summary>
    public MdevType? FindType(string id) => Types.FirstOrDefault(t => t.Id == id);

    /// <summary>The parent's name.</summary>
    public override string ToString() => Name;
}
