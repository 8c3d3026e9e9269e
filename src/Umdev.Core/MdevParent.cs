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

    public MdevCore Core { get; }
    public MdevParentSpec Spec { get; }
    public MdevDriver Driver { get; }
    public string Name => Spec.Name;
    public IReadOnlyList<MdevType> Types { get; }

    /// <summary>True once unregistration has begun: creates then fail with ENODEV.</summary>
    public bool IsUnregistering => Unregistering;

    public MdevType? FindType(string id) => Types.FirstOrDefault(t => t.Id == id);

    public override string ToString() => Name;
}
