namespace Umdev.Core;

/// <summary>A registered type of a parent (<c>mdev_supported_types/&lt;id&gt;</c>).</summary>
public sealed class MdevType
{
    internal MdevType(MdevParent parent, MdevTypeSpec spec)
    {
        Parent = parent;
        Spec = spec;
        Id = $"{parent.Spec.DriverString}-{spec.SysfsName}";
    }

    /// <summary>The parent that supports this type.</summary>
    public MdevParent Parent { get; }
    /// <summary>What the vendor driver declared.</summary>
    public MdevTypeSpec Spec { get; }

    /// <summary>The type id: <c>&lt;parent driver string&gt;-&lt;sysfs name&gt;</c>, e.g. <c>mtty-2</c>.</summary>
    public string Id { get; }

    /// <summary>What the <c>name</c> file shows (without the newline).</summary>
    public string Name => Spec.PrettyName ?? Spec.SysfsName;

    /// <summary>The <c>device_api</c> file, e.g. <c>vfio-pci</c>.</summary>
    public string DeviceApi => Spec.DeviceApi;

    /// <summary>Asked of the driver on every read, as the kernel does.</summary>
    public int AvailableInstances => Parent.Driver.GetAvailableInstances(this);

    /// <summary>The <c>description</c> file, asked of the driver; null: no such file.</summary>
    public string? Description => Parent.Driver.GetDescription(this);

    /// <summary>The active devices of this type, sorted by name.</summary>
    public IReadOnlyList<MdevDevice> Devices => Parent.Core.DevicesOf(this);

    /// <summary>The type id.</summary>
    public override string ToString() => Id;
}
