using System.Collections.Concurrent;
using Umdev.Core;

namespace Umdev.Sysfs;

/// <summary>
/// Finds the device of an IOMMU group number without scanning every device. Only an accelerator: every
/// answer is checked against the core (the device must still be active and own the group).
/// </summary>
internal sealed class IommuGroupIndex : IMdevObserver
{
    private readonly ConcurrentDictionary<int, MdevDevice> _byGroup = new();

    public void Attach(MdevCore core)
    {
        core.AddObserver(this);
        foreach (var mdev in core.Devices) _byGroup[mdev.IommuGroup] = mdev;
    }

    public void Detach(MdevCore core) => core.RemoveObserver(this);

    public MdevDevice? Find(int group) => _byGroup.TryGetValue(group, out var mdev) && Owns(group, mdev) ? mdev : null;

    private static bool Owns(int group, MdevDevice mdev) => mdev.State == MdevDeviceState.Active && mdev.IommuGroup == group;

    /// <summary>The devices that own their group, by group number.</summary>
    public IEnumerable<MdevDevice> Devices => _byGroup.Where(g => Owns(g.Key, g.Value)).OrderBy(g => g.Key).Select(g => g.Value);

    /// <summary>The groups with a device, counted without sorting or copying (a stat of iommu_groups asks it).</summary>
    public int Count
    {
        get
        {
            int n = 0;
            foreach (var (group, mdev) in _byGroup)
            {
                if (Owns(group, mdev)) n++;
            }
            return n;
        }
    }

    void IMdevObserver.OnDeviceAdded(MdevDevice mdev) => _byGroup[mdev.IommuGroup] = mdev;

    void IMdevObserver.OnDeviceRemoved(MdevDevice mdev) =>
        _byGroup.TryRemove(new KeyValuePair<int, MdevDevice>(mdev.IommuGroup, mdev));
}
