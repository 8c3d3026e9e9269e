using System.Collections.Immutable;

namespace Umdev.Core;

public enum MdevDeviceState
{
    Creating,
    Active,
    Removing,
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

    public Guid Uuid { get; }

    /// <summary>The device name: the lowercase canonical UUID.</summary>
    public string Name { get; }

    public MdevType Type { get; }
    public MdevParent Parent => Type.Parent;
    public MdevDriver Driver => Parent.Driver;

    /// <summary>The device's own IOMMU group number.</summary>
    public int IommuGroup { get; }

    public MdevDeviceState State => (MdevDeviceState)Volatile.Read(ref _state);

    /// <summary>What the bound driver attached (e.g. its VFIO device); set during probe.</summary>
    public object? DriverData { get; set; }

    /// <summary>The driver's attribute groups, then those added by other layers (e.g. vfio-user/socket).</summary>
    public IReadOnlyList<MdevAttributeGroup> AttributeGroups =>
        State is MdevDeviceState.Active or MdevDeviceState.Removing
            ? [.. Driver.GetDeviceAttributeGroups(this), .. _extraGroups]
            : [];

    /// <summary>Adds an attribute group owned by another layer; it disappears with the device.</summary>
    public void AddAttributeGroup(MdevAttributeGroup group) =>
        ImmutableInterlocked.Update(ref _extraGroups, g => g.Add(group));

    public void RemoveAttributeGroup(MdevAttributeGroup group) =>
        ImmutableInterlocked.Update(ref _extraGroups, g => g.Remove(group));

    internal bool TryTransition(MdevDeviceState from, MdevDeviceState to) =>
        Interlocked.CompareExchange(ref _state, (int)to, (int)from) == (int)from;

    internal void SetState(MdevDeviceState state) => Volatile.Write(ref _state, (int)state);

    public override string ToString() => Name;
}
