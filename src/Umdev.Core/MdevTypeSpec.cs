namespace Umdev.Core;

/// <summary>A type a parent supports, as its vendor driver declares it (kernel <c>struct mdev_type</c>).</summary>
/// <param name="SysfsName">The vendor's short name; the type id is <c>driver-string</c>-<c>SysfsName</c>.</param>
/// <param name="PrettyName">Shown by the <c>name</c> file; the sysfs name when absent.</param>
/// <param name="DeviceApi">The VFIO device API string, e.g. <c>vfio-pci</c>.</param>
public sealed record MdevTypeSpec(string SysfsName, string? PrettyName, string DeviceApi);

/// <summary>How a parent device registers: its name, its place in the device tree and its types.</summary>
/// <param name="Name">The parent's device name (what <c>/sys/class/mdev_bus</c> lists), e.g. <c>mtty</c>.</param>
/// <param name="DevicePath">Path of its device directory below <c>/sys</c>, e.g. <c>devices/virtual/mtty/mtty</c>.</param>
/// <param name="DriverString">The parent's driver/bus/class string that prefixes type ids.</param>
/// <param name="ClassName">The class the parent device belongs to (for <c>/sys/class/&lt;class&gt;</c>), if any.</param>
/// <param name="Types">The types the parent supports, in the order <c>mdev_supported_types</c> lists them.</param>
public sealed record MdevParentSpec(
    string Name,
    string DevicePath,
    string DriverString,
    string? ClassName,
    IReadOnlyList<MdevTypeSpec> Types)
{
    /// <summary>Vendor attribute groups on the parent device (mtty's <c>mtty_dev/sample_mtty_dev</c>).</summary>
    public IReadOnlyList<MdevAttributeGroup> AttributeGroups { get; init; } = [];
}
