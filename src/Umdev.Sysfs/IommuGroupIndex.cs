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

    public MdevDevice? Find(int group) =>
        _byGroup.TryGetValue(group, out var mdev) && mdev.State == MdevDeviceState.Active && mdev.IommuGroup == group ? mdev : null;

    /// <summary>Active devices of a parent, counted without sorting or copying (a stat of a parent directory asks it).</summary>
    public int CountDevices(MdevParent parent)
    {
        int n = 0;
        foreach (var (_, mdev) in _byGroup)
        {
            if (mdev.Parent == parent && mdev.State == MdevDeviceState.Active) n++;
        }
        return n;
    }

    public IEnumerable<int> Groups => _byGroup.Keys.Where(g => Find(g) is not null).Order();

    void IMdevObserver.OnDeviceAdded(MdevDevice mdev) => _byGroup[mdev.IommuGroup] = mdev;

    void IMdevObserver.OnDeviceRemoved(MdevDevice mdev) =>
        _byGroup.TryRemove(new KeyValuePair<int, MdevDevice>(mdev.IommuGroup, mdev));
}
