using System.Collections.Immutable;

namespace Umdev.Core;

/// <summary>Where a device is in its life: only <see cref="Active"/> devices are visible and usable.</summary>
public enum MdevDeviceState
{
    /// <summary>Being probed by its driver and offered to the observers; not yet visible.</summary>
    Creating,
    /// <summary>Bound and visible.</summary>
    Active,
    /// <summary>Removal under way; not visible, and its UUID still taken until every observer let it go.</summary>
    Removing,
    /// <summary>Gone; the object is kept only by those still referring to it.</summary>
    Removed,
}

/// <summary>One mediated device (kernel <c>struct mdev_device</c>).</summary>
public sealed class MdevDevice
{
    private int _state = (int)MdevDeviceState.Creating;
    private ImmutableArray<MdevAttributeGroup> _extraGroups = [];

    internal MdevDevice(MdevType type, Guid uuid, int iommuGroup)
    {
        Type = type;
        Uuid = uuid;
        Name = MdevUuid.ToName(uuid);
        IommuGroup = iommuGroup;
    }

    /// <summary>The UUID given at creation.</summary>
    public Guid Uuid { get; }

    /// <summary>The device name: the lowercase canonical UUID.</summary>
    public string Name { get; }

    /// <summary>The type it was created as.</summary>
    public MdevType Type { get; }
    /// <summary>The parent of its type.</summary>
    public MdevParent Parent => Type.Parent;
    /// <summary>The driver it is bound to (its parent's).</summary>
    public MdevDriver Driver => Parent.Driver;

    /// <summary>The device's own IOMMU group number.</summary>
    public int IommuGroup { get; }

    /// <summary>Its life-cycle state, read without a lock.</summary>
    public MdevDeviceState State => (MdevDeviceState)Volatile.Read(ref _state);

    /// <summary>What the bound driver attached (e.g. its VFIO device); set during probe.</summary>
    public object? DriverData { get; set; }

    /// <summary>
    /// The driver's attribute groups, then those added by other layers (e.g. vfio-user/socket); none once
    /// removal started. Their show and store run only while the device is not being removed: from the start
    /// of a removal they fail with ENODEV, and the driver's <see cref="MdevDriver.Remove"/> is called only
    /// after every show and store already running returned (as kernfs drains a file's active references
    /// before a device's driver is unbound). A store must therefore not remove its own device.
    /// </summary>
    public IReadOnlyList<MdevAttributeGroup> AttributeGroups
    {
        get
        {
            if (State is not (MdevDeviceState.Active or MdevDeviceState.Removing) || !EnterAttributes()) return [];
            MdevAttributeGroup[] groups;
            try
            {
                groups = [.. Driver.GetDeviceAttributeGroups(this), .. _extraGroups];
            }
            finally
            {
                ExitAttributes();
            }
            for (int i = 0; i < groups.Length; i++)
                groups[i] = groups[i] with { Attributes = [.. groups[i].Attributes.Select(Guarded)] };
            return groups;
        }
    }

    private MdevAttribute Guarded(MdevAttribute a) => new(a.Name, a.Mode,
        a.Show is { } show ? () =>
        {
            if (!EnterAttributes()) ThrowRemoved();
            try { return show(); }
            finally { ExitAttributes(); }
        } : null,
        a.Store is { } store ? written =>
        {
            if (!EnterAttributes()) ThrowRemoved();
            try { store(written); }
            finally { ExitAttributes(); }
        } : null);

    // Show and store calls in progress, with the sign bit set once removal started: one interlocked add
    // per call and no lock, and a removal only waits for calls that are already inside.
    private int _attributeCalls;
    private const int AttributesClosed = int.MinValue;

    private bool EnterAttributes()
    {
        if (Interlocked.Increment(ref _attributeCalls) > 0) return true;
        Interlocked.Decrement(ref _attributeCalls);
        return false;
    }

    private void ExitAttributes() => Interlocked.Decrement(ref _attributeCalls);

    /// <summary>Removal starts: later show/store calls get ENODEV.</summary>
    internal void CloseAttributes() => Interlocked.Or(ref _attributeCalls, AttributesClosed);

    /// <summary>A removal an observer refused: the attributes work again.</summary>
    internal void ReopenAttributes() => Interlocked.And(ref _attributeCalls, ~AttributesClosed);

    /// <summary>Waits until no show/store of this device runs (after <see cref="CloseAttributes"/>).</summary>
    internal void DrainAttributes()
    {
        var spin = new SpinWait();
        while (Volatile.Read(ref _attributeCalls) != AttributesClosed) spin.SpinOnce();
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void ThrowRemoved() => Interop.ThrowHelper.Throw(Interop.Errno.ENODEV, $"{Name} is being removed");

    /// <summary>Adds an attribute group owned by another layer; it disappears with the device.</summary>
    public void AddAttributeGroup(MdevAttributeGroup group) =>
        ImmutableInterlocked.Update(ref _extraGroups, g => g.Add(group));

    /// <summary>Removes a group added by <see cref="AddAttributeGroup"/>.</summary>
    public void RemoveAttributeGroup(MdevAttributeGroup group) =>
        ImmutableInterlocked.Update(ref _extraGroups, g => g.Remove(group));

    internal bool TryTransition(MdevDeviceState from, MdevDeviceState to) =>
        Interlocked.CompareExchange(ref _state, (int)to, (int)from) == (int)from;

    internal void SetState(MdevDeviceState state) => Volatile.Write(ref _state, (int)state);

    /// <summary>The device name.</summary>
    public override string ToString() => Name;
}
