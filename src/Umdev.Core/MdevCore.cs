using System.Collections.Concurrent;
using System.Collections.Immutable;
using Umdev.Interop;

namespace Umdev.Core;

/// <summary>
/// The mediated core (the kernel's <c>mdev.ko</c>): the mdev bus with its drivers, the registered
/// parents, and every device. No global lock: create and remove of different devices run in
/// parallel; uniqueness comes from one atomic insert per UUID and capacity from the drivers' own
/// atomic accounting. The insert also serializes the life of one UUID: its entry stays from the start of
/// the create (state Creating, invisible) until every observer has heard <see cref="IMdevObserver.OnDeviceRemoved"/>,
/// so a create of the same UUID meanwhile gets EEXIST, as the kernel's <c>mdev_device_create</c> does while the
/// old device is still on its list.
/// </summary>
public sealed class MdevCore
{
    private readonly ConcurrentDictionary<Guid, MdevDevice> _devices = new();
    private ImmutableArray<MdevParent> _parents = [];
    private ImmutableArray<MdevDriver> _drivers = [];
    private ImmutableArray<IMdevObserver> _observers = [];

    /// <summary>The IOMMU group numbers of the devices (one group per device).</summary>
    public IommuGroupAllocator IommuGroups { get; } = new();

    /// <summary>The registered parents, in registration order.</summary>
    public IReadOnlyList<MdevParent> Parents => _parents;
    /// <summary>The drivers on the mdev bus.</summary>
    public IReadOnlyList<MdevDriver> Drivers => _drivers;

    /// <summary>Every active device, sorted by name.</summary>
    public IReadOnlyList<MdevDevice> Devices =>
        _devices.Values.Where(d => d.State == MdevDeviceState.Active).OrderBy(d => d.Name, StringComparer.Ordinal).ToArray();

    /// <summary>Adds a layer to be told of parents and devices (<see cref="IMdevObserver"/>).</summary>
    public void AddObserver(IMdevObserver observer) => ImmutableInterlocked.Update(ref _observers, o => o.Add(observer));

    /// <summary>Stops telling <paramref name="observer"/>.</summary>
    public void RemoveObserver(IMdevObserver observer) => ImmutableInterlocked.Update(ref _observers, o => o.Remove(observer));

    /// <summary>Registers a driver on the mdev bus (idempotent).</summary>
    public void RegisterDriver(MdevDriver driver) =>
        ImmutableInterlocked.Update(ref _drivers, d => d.Contains(driver) ? d : d.Add(driver));

    /// <summary>Removes a driver from the bus; EBUSY while a parent still uses it.</summary>
    public void UnregisterDriver(MdevDriver driver)
    {
        if (_parents.Any(p => p.Driver == driver))
            ThrowHelper.Throw(Errno.EBUSY, $"driver {driver.Name} still has parents");
        ImmutableInterlocked.Update(ref _drivers, d => d.Remove(driver));
    }

    /// <summary>Registers a parent with the types it supports; its devices will be bound to <paramref name="driver"/>.</summary>
    public MdevParent RegisterParent(MdevParentSpec spec, MdevDriver driver)
    {
        if (spec.Types.Count == 0) ThrowHelper.Throw(Errno.EINVAL, "a parent needs at least one type");
        var parent = new MdevParent(this, spec, driver);
        bool added = false;
        ImmutableInterlocked.Update(ref _parents, p =>
        {
            added = !p.Any(x => x.Name == spec.Name);
            return added ? p.Add(parent) : p;
        });
        if (!added) ThrowHelper.Throw(Errno.EEXIST, $"parent {spec.Name} already registered");
        RegisterDriver(driver);
        foreach (var o in _observers) o.OnParentRegistered(parent);
        return parent;
    }

    /// <summary>Removes every device of the parent, then the parent. Waits for creates and removes in flight.</summary>
    public void UnregisterParent(MdevParent parent)
    {
        parent.Unregistering = true;
        parent.UnregisterLock.EnterWriteLock();
        try
        {
            foreach (var mdev in _devices.Values.Where(d => d.Parent == parent).ToArray())
            {
                if (mdev.TryTransition(MdevDeviceState.Active, MdevDeviceState.Removing))
                {
                    mdev.CloseAttributes();
                    Teardown(mdev, MdevRemoveReason.ParentUnregister);
                }
            }
            ImmutableInterlocked.Update(ref _parents, p => p.Remove(parent));
        }
        finally
        {
            parent.UnregisterLock.ExitWriteLock();
        }
        foreach (var o in _observers) o.OnParentUnregistered(parent);
    }

    /// <summary>The parent named <paramref name="name"/>, or null.</summary>
    public MdevParent? FindParent(string name) => _parents.FirstOrDefault(p => p.Name == name);

    /// <summary>The active device with <paramref name="uuid"/>, or null.</summary>
    public MdevDevice? FindDevice(Guid uuid) =>
        _devices.TryGetValue(uuid, out var d) && d.State == MdevDeviceState.Active ? d : null;

    /// <summary>The active device named <paramref name="name"/> (its canonical UUID), or null.</summary>
    public MdevDevice? FindDevice(string name) => MdevUuid.TryParse(name, out var uuid) ? FindDevice(uuid) : null;

    internal IReadOnlyList<MdevDevice> DevicesOf(MdevType type) =>
        _devices.Values.Where(d => d.Type == type && d.State == MdevDeviceState.Active)
            .OrderBy(d => d.Name, StringComparer.Ordinal).ToArray();

    /// <summary>Active devices of a parent, counted without sorting or copying (a stat of a parent directory asks it).</summary>
    public int CountDevices(MdevParent parent)
    {
        int n = 0;
        foreach (var (_, d) in _devices)
        {
            if (d.Parent == parent && d.State == MdevDeviceState.Active) n++;
        }
        return n;
    }

    /// <summary>A write to <c>create</c>: parses the UUID text with the kernel's rules, then creates.</summary>
    public MdevDevice Create(MdevType type, ReadOnlySpan<byte> written) => Create(type, MdevUuid.ParseCreateWrite(written));

    /// <summary>
    /// Creates and binds a device. Errors: EEXIST (UUID in use anywhere, including by a device still being
    /// created or removed), ENODEV (parent unregistering), or whatever the driver's probe or an observer refuses
    /// with (mtty: ENOSPC). The device becomes visible (<see cref="FindDevice(Guid)"/>, the tree) only after every
    /// observer accepted it.
    /// </summary>
    public MdevDevice Create(MdevType type, Guid uuid)
    {
        var parent = type.Parent;
        if (parent.Unregistering || !parent.UnregisterLock.TryEnterReadLock(0))
            ThrowHelper.Throw(Errno.ENODEV, $"parent {parent.Name} is unregistering");
        try
        {
            if (parent.Unregistering) ThrowHelper.Throw(Errno.ENODEV, $"parent {parent.Name} is unregistering");
            if (_devices.ContainsKey(uuid)) ThrowHelper.Throw(Errno.EEXIST, $"{MdevUuid.ToName(uuid)} exists");
            int group = IommuGroups.Allocate();
            var mdev = new MdevDevice(type, uuid, group);
            if (!_devices.TryAdd(uuid, mdev))
            {
                IommuGroups.Release(group);
                ThrowHelper.Throw(Errno.EEXIST, $"{mdev.Name} exists");
            }
            try
            {
                parent.Driver.Probe(mdev);
            }
            catch
            {
                Forget(mdev);
                throw;
            }
            // Still Creating: invisible to lookups and the tree, and not removable, until every observer took it.
            var notified = new List<IMdevObserver>();
            try
            {
                foreach (var o in _observers)
                {
                    o.OnDeviceAdded(mdev);
                    notified.Add(o);
                }
            }
            catch
            {
                // A layer could not take the device (e.g. its socket): undo as if the probe had failed.
                mdev.SetState(MdevDeviceState.Removing);
                mdev.CloseAttributes();
                foreach (var o in notified) o.OnDeviceRemoving(mdev, MdevRemoveReason.ParentUnregister);
                mdev.DrainAttributes();
                parent.Driver.Remove(mdev);
                foreach (var o in notified) o.OnDeviceRemoved(mdev);
                Forget(mdev);
                throw;
            }
            mdev.SetState(MdevDeviceState.Active);
            return mdev;
        }
        finally
        {
            parent.UnregisterLock.ExitReadLock();
        }
    }

    /// <summary>
    /// A write to a device's <c>remove</c> file. Parses the value as the kernel's kstrtoul with base 0;
    /// 0 does nothing; anything else removes the device.
    /// </summary>
    public void RemoveWrite(MdevDevice mdev, ReadOnlySpan<byte> written)
    {
        ulong value = SysfsNumber.ParseUnsigned(written);
        if (value != 0) Remove(mdev);
    }

    /// <summary>
    /// Removes a device. A concurrent removal already under way makes this a success; a device still
    /// being created gives EAGAIN; an observer may refuse with its errno (the device then stays).
    /// </summary>
    public void Remove(MdevDevice mdev)
    {
        switch (mdev.State)
        {
            case MdevDeviceState.Creating:
                ThrowHelper.Throw(Errno.EAGAIN, $"{mdev.Name} is still being created");
                break;
            case MdevDeviceState.Removing or MdevDeviceState.Removed:
                return; // the remove file is already detached: the write just succeeds
        }
        var parent = mdev.Parent;
        if (parent.Unregistering || !parent.UnregisterLock.TryEnterReadLock(0))
            ThrowHelper.Throw(Errno.ENODEV, $"parent {parent.Name} is unregistering");
        try
        {
            if (!mdev.TryTransition(MdevDeviceState.Active, MdevDeviceState.Removing)) return;
            mdev.CloseAttributes();
            var accepted = new List<IMdevObserver>();
            try
            {
                foreach (var o in _observers)
                {
                    o.OnDeviceRemoving(mdev, MdevRemoveReason.UserRequest);
                    accepted.Add(o);
                }
            }
            catch (ErrnoException)
            {
                // The device stays: those that already let go of it hear so, latest first.
                mdev.ReopenAttributes();
                mdev.SetState(MdevDeviceState.Active);
                for (int i = accepted.Count - 1; i >= 0; i--) accepted[i].OnDeviceRemoveCancelled(mdev);
                throw;
            }
            TeardownAfterObservers(mdev);
        }
        finally
        {
            parent.UnregisterLock.ExitReadLock();
        }
    }

    private void Teardown(MdevDevice mdev, MdevRemoveReason reason)
    {
        foreach (var o in _observers)
        {
            try { o.OnDeviceRemoving(mdev, reason); }
            catch (ErrnoException) { /* cannot refuse a parent going away */ }
        }
        TeardownAfterObservers(mdev);
    }

    private void TeardownAfterObservers(MdevDevice mdev)
    {
        // No attribute of the device runs any more, so the driver may let go of what they read.
        mdev.DrainAttributes();
        mdev.Parent.Driver.Remove(mdev);
        foreach (var o in _observers) o.OnDeviceRemoved(mdev);
        Forget(mdev);
    }

    /// <summary>The last step of a device's life: only now may its UUID (and IOMMU group) be taken again.</summary>
    private void Forget(MdevDevice mdev)
    {
        mdev.SetState(MdevDeviceState.Removed);
        _devices.TryRemove(new KeyValuePair<Guid, MdevDevice>(mdev.Uuid, mdev));
        IommuGroups.Release(mdev.IommuGroup);
    }
}
