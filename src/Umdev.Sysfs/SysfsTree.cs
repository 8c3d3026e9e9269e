using System.Globalization;
using Umdev.Core;
using Umdev.Interop;

namespace Umdev.Sysfs;

/// <summary>
/// The sysfs tree of the mediated core (mdev-sysfs.md §1–§6), computed from <see cref="MdevCore"/> on
/// every lookup: parents under their device paths, their types, each device, the mdev bus and its
/// drivers, the class links and the IOMMU groups. Link targets are relative, as sysfs makes them.
/// </summary>
public sealed class SysfsTree : IDisposable
{
    private readonly MdevCore _core;
    private readonly IommuGroupIndex _groups = new();

    public SysfsTree(MdevCore core)
    {
        _core = core;
        _groups.Attach(core);
        Root = new("", d =>
        [
            Bus(d.Child("bus")),
            Class(d.Child("class")),
            DeviceTree(d.Child("devices")),
            Kernel(d.Child("kernel")),
            Modules(d.Child("module")),
        ]);
    }

    public void Dispose() => _groups.Detach(_core);

    /// <summary>The mount's root; its children are computed on every call, so one instance serves every request.</summary>
    public SysfsDirectory Root { get; }

    /// <summary>Resolves a mount-relative path ("" is the root); null if nothing is there now.</summary>
    public SysfsEntry? Resolve(string path)
    {
        SysfsEntry? entry = Root;
        if (path.Length == 0) return entry;
        foreach (string name in path.Split('/'))
        {
            if (entry is not SysfsDirectory dir) return null;
            entry = dir.Lookup(name);
            if (entry is null) return null;
        }
        return entry;
    }

    // ---- devices/: the parents' device directories --------------------------------------------------

    private SysfsDirectory DeviceTree(string path) => new(path, d =>
        _core.Parents
            .Where(p => p.Spec.DevicePath.StartsWith(path + "/", StringComparison.Ordinal))
            .Select(p => NextSegment(path, p.Spec.DevicePath))
            .Distinct()
            .Select(name =>
            {
                string child = d.Child(name);
                var parent = _core.Parents.FirstOrDefault(p => p.Spec.DevicePath == child);
                return parent is not null ? ParentDir(parent) : (SysfsEntry)DeviceTree(child);
            }).ToArray());

    private static string NextSegment(string dir, string descendant)
    {
        string rest = descendant[(dir.Length + 1)..];
        int slash = rest.IndexOf('/');
        return slash < 0 ? rest : rest[..slash];
    }

    private bool IsRegistered(MdevParent parent) => _core.Parents.Contains(parent);

    private SysfsDirectory ParentDir(MdevParent parent) => new(parent.Spec.DevicePath,
        d => ParentOwnEntries(parent, d).Concat(parent.Types.SelectMany(t => t.Devices).Select(DeviceDir)).ToArray(),
        (d, name) => MdevUuid.TryParse(name, out _)
            ? _core.FindDevice(name) is { } m && m.Parent == parent && m.Name == name ? DeviceDir(m) : null
            : ParentOwnEntries(parent, d).FirstOrDefault(c => c.Name == name),
        () => ParentOwnEntries(parent, null).Count(e => e is SysfsDirectory) + _core.CountDevices(parent));

    /// <summary>The parent directory without its device sub-directories.</summary>
    private IEnumerable<SysfsEntry> ParentOwnEntries(MdevParent parent, SysfsDirectory? dir)
    {
        var d = dir ?? new SysfsDirectory(parent.Spec.DevicePath, _ => []);
        Func<bool> alive = () => IsRegistered(parent);
        yield return TypesDir(parent, d.Child("mdev_supported_types"));
        foreach (var e in Groups(d, parent.Spec.AttributeGroups.Append(StandardAttributes.Power), alive)) yield return e;
        if (parent.Spec.ClassName is { } cls) yield return new SysfsLink(d.Child("subsystem"), $"class/{cls}");
        yield return new SysfsFile(d.Child("uevent"), StandardAttributes.DeviceUevent(() => ""), alive);
    }

    private SysfsDirectory TypesDir(MdevParent parent, string path) =>
        new(path, d => parent.Types.Select(t => TypeDir(t, d.Child(t.Id))).ToArray());

    private SysfsDirectory TypeDir(MdevType type, string path) => new(path, d =>
    {
        Func<bool> alive = () => IsRegistered(type.Parent);
        var attributes = new List<MdevAttribute>
        {
            MdevAttribute.Text("available_instances", () => type.AvailableInstances.ToString(CultureInfo.InvariantCulture) + "\n"),
            new("create", MdevAttribute.WriteOnly, store: written => _core.Create(type, written)),
            MdevAttribute.Text("device_api", () => type.DeviceApi + "\n"),
            MdevAttribute.Text("name", () => type.Name + "\n"),
        };
        if (type.Description is not null)
            attributes.Add(MdevAttribute.Text("description", () => (type.Description ?? ThrowHelper.Throw<string>(Errno.ENODEV)) + "\n"));
        var entries = attributes.Select(a => (SysfsEntry)new SysfsFile(d.Child(a.Name), a, alive)).ToList();
        entries.Add(DeviceLinksDir(d.Child("devices"), () => type.Devices, m => m.Type == type));
        return entries;
    });

    private static string DevicePath(MdevDevice mdev) => SysfsPath.Combine(mdev.Parent.Spec.DevicePath, mdev.Name);

    /// <summary>A directory of links to devices, one per device that <paramref name="belongs"/>, named by its UUID.</summary>
    private SysfsDirectory DeviceLinksDir(string path, Func<IEnumerable<MdevDevice>> devices, Func<MdevDevice, bool> belongs) =>
        new(path, d => devices().Select(m => DeviceLink(d, m)).ToArray(), (d, name) => DeviceLink(d, name, belongs), () => 0);

    private static SysfsLink DeviceLink(SysfsDirectory dir, MdevDevice mdev) => new(dir.Child(mdev.Name), DevicePath(mdev));

    /// <summary>The link named <paramref name="name"/> if it is the exact name of a device that <paramref name="belongs"/>.</summary>
    private SysfsLink? DeviceLink(SysfsDirectory dir, string name, Func<MdevDevice, bool> belongs) =>
        _core.FindDevice(name) is { } m && belongs(m) && m.Name == name ? DeviceLink(dir, m) : null;

    private SysfsDirectory DeviceDir(MdevDevice mdev) => new(DevicePath(mdev), d =>
    {
        Func<bool> alive = () => mdev.State is MdevDeviceState.Active or MdevDeviceState.Removing;
        var entries = new List<SysfsEntry>
        {
            new SysfsLink(d.Child("driver"), $"bus/mdev/drivers/{mdev.Driver.Name}"),
            new SysfsLink(d.Child("iommu_group"), IommuGroupPath(mdev.IommuGroup)),
            new SysfsLink(d.Child("mdev_type"), SysfsPath.Combine(mdev.Parent.Spec.DevicePath, $"mdev_supported_types/{mdev.Type.Id}")),
            new SysfsFile(d.Child("remove"), new MdevAttribute("remove", MdevAttribute.WriteOnly,
                store: written => _core.RemoveWrite(mdev, written)), alive),
            new SysfsLink(d.Child("subsystem"), "bus/mdev"),
            new SysfsFile(d.Child("uevent"), StandardAttributes.DeviceUevent(() => $"DRIVER={mdev.Driver.Name}\n"), alive),
        };
        entries.AddRange(Groups(d, mdev.AttributeGroups.Append(StandardAttributes.Power), alive));
        return entries;
    });

    /// <summary>Attribute groups: unnamed ones put files in the directory itself, named ones a sub-directory.</summary>
    private static IEnumerable<SysfsEntry> Groups(SysfsDirectory dir, IEnumerable<MdevAttributeGroup> groups, Func<bool> alive)
    {
        foreach (var group in groups)
        {
            if (group.Name is null)
            {
                foreach (var a in group.Attributes) yield return new SysfsFile(dir.Child(a.Name), a, alive);
            }
            else
            {
                yield return new SysfsDirectory(dir.Child(group.Name),
                    g => group.Attributes.Select(a => new SysfsFile(g.Child(a.Name), a, alive)).ToArray());
            }
        }
    }

    // ---- bus/mdev -----------------------------------------------------------------------------------

    private int _driversAutoprobe = 1;

    private SysfsDirectory Bus(string path) => new(path, d => [BusMdev(d.Child("mdev"))]);

    private SysfsDirectory BusMdev(string path) => new(path, d =>
    [
        DeviceLinksDir(d.Child("devices"), () => _core.Devices, _ => true),
        new SysfsDirectory(d.Child("drivers"), drivers => _core.Drivers.Select(drv => DriverDir(drv, drivers.Child(drv.Name))).ToArray()),
        new SysfsFile(d.Child("drivers_autoprobe"), new MdevAttribute("drivers_autoprobe", MdevAttribute.ReadWrite,
            () => $"{Volatile.Read(ref _driversAutoprobe)}\n",
            written => Volatile.Write(ref _driversAutoprobe, written.Length > 0 && written[0] == '0' ? 0 : 1))),
        new SysfsFile(d.Child("drivers_probe"), new MdevAttribute("drivers_probe", MdevAttribute.WriteOnly, store: written =>
        {
            // Every mdev is bound at creation, so probing finds nothing to do — if the device exists.
            if (_core.FindDevice(StandardAttributes.WrittenName(written)) is null) ThrowHelper.Throw(Errno.ENODEV);
        })),
        new SysfsFile(d.Child("uevent"), StandardAttributes.WriteOnlyUevent),
    ]);

    private SysfsDirectory DriverDir(MdevDriver driver, string path) => new(path,
        d => DriverOwnEntries(driver, d).Concat(_core.Devices.Where(m => m.Driver == driver).Select(m => DeviceLink(d, m))).ToArray(),
        (d, name) => MdevUuid.TryParse(name, out _)
            ? DeviceLink(d, name, m => m.Driver == driver)
            : DriverOwnEntries(driver, d).FirstOrDefault(c => c.Name == name),
        () => 0);

    /// <summary>The driver directory without its device links.</summary>
    private IEnumerable<SysfsEntry> DriverOwnEntries(MdevDriver driver, SysfsDirectory d) =>
    [
        // mdev_match never matches: binding happens only at creation, so bind always finds no device.
        new SysfsFile(d.Child("bind"), new MdevAttribute("bind", MdevAttribute.WriteOnly, store: _ => ThrowHelper.Throw(Errno.ENODEV))),
        new SysfsLink(d.Child("module"), $"module/{driver.Name}"),
        new SysfsFile(d.Child("uevent"), StandardAttributes.WriteOnlyUevent),
        new SysfsFile(d.Child("unbind"), new MdevAttribute("unbind", MdevAttribute.WriteOnly, store: written =>
        {
            // A device without a driver is not something the core models; remove it instead.
            var mdev = _core.FindDevice(StandardAttributes.WrittenName(written));
            ThrowHelper.Throw(mdev is not null && mdev.Driver == driver ? Errno.EBUSY : Errno.ENODEV);
        })),
    ];

    // ---- class/ -------------------------------------------------------------------------------------

    private SysfsDirectory Class(string path) => new(path, d =>
    {
        var classes = _core.Parents.Select(p => p.Spec.ClassName).OfType<string>().Prepend("mdev_bus").Distinct();
        return classes.Select(cls => new SysfsDirectory(d.Child(cls), c => _core.Parents
            .Where(p => cls == "mdev_bus" || p.Spec.ClassName == cls)
            .Select(p => new SysfsLink(c.Child(cls == "mdev_bus" ? p.Name : SysfsPath.BaseName(p.Spec.DevicePath)), p.Spec.DevicePath))
            .ToArray())).ToArray();
    });

    // ---- kernel/iommu_groups ------------------------------------------------------------------------

    private static string IommuGroupPath(int group) => $"kernel/iommu_groups/{group}";

    private SysfsDirectory Kernel(string path) => new(path, d =>
    [
        new SysfsDirectory(d.Child("iommu_groups"),
            groups => _groups.Devices.Select(m => IommuGroupDir(m, groups.Child(Num(m.IommuGroup)))).ToArray(),
            (groups, name) => int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && Num(n) == name &&
                _groups.Find(n) is { } m ? IommuGroupDir(m, groups.Child(name)) : null,
            () => _groups.Count),
    ]);

    private static string Num(int n) => n.ToString(CultureInfo.InvariantCulture);

    private SysfsDirectory IommuGroupDir(MdevDevice mdev, string path) => new(path, d =>
    {
        // The group VFIO creates for an emulated-IOMMU device: named vfio-noiommu, no default domain.
        Func<bool> alive = () => mdev.State == MdevDeviceState.Active;
        return
        [
            new SysfsDirectory(d.Child("devices"), devs => [new SysfsLink(devs.Child(mdev.Name), DevicePath(mdev))]),
            new SysfsFile(d.Child("name"), MdevAttribute.Text("name", () => "vfio-noiommu\n"), alive),
            new SysfsFile(d.Child("reserved_regions"), MdevAttribute.Text("reserved_regions", () => ""), alive),
            new SysfsFile(d.Child("type"), new MdevAttribute("type", MdevAttribute.ReadWrite, () => "unknown\n",
                _ => ThrowHelper.Throw(Errno.EINVAL, "group has no default domain")), alive),
        ];
    });

    // ---- module/: just enough for the drivers' module links to resolve ------------------------------

    private SysfsDirectory Modules(string path) => new(path, d => _core.Drivers.Select(drv =>
        new SysfsDirectory(d.Child(drv.Name), m =>
        [
            new SysfsDirectory(m.Child("drivers"), ds => [new SysfsLink(ds.Child($"mdev:{drv.Name}"), $"bus/mdev/drivers/{drv.Name}")]),
        ])).ToArray());
}
