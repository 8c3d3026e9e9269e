using System.Text;
using Umdev.Core;
using Umdev.Interop;

namespace Umdev.Core.Tests;

public class MdevCoreTests
{
    private const string Uuid = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001";

    private static (MdevCore core, MdevParent parent, PoolDriver driver) Setup(int units = 24)
    {
        var core = new MdevCore();
        var driver = new PoolDriver(units);
        return (core, core.RegisterParent(PoolDriver.Spec(), driver), driver);
    }

    private static byte[] Text(string s) => Encoding.ASCII.GetBytes(s);

    private static Errno ErrnoOf(Action action) => Assert.Throws<ErrnoException>(action).Errno;

    [Fact]
    public void Types_are_named_after_the_parent_driver_string_and_report_live_values()
    {
        var (_, parent, driver) = Setup();
        Assert.Equal(["pool-a", "pool-b"], parent.Types.Select(t => t.Id));
        var b = parent.FindType("pool-b")!;
        Assert.Equal("b", b.Name); // no pretty name: the sysfs name
        Assert.Equal("Single unit", parent.FindType("pool-a")!.Name);
        Assert.Equal(12, b.AvailableInstances);
        Assert.Null(b.Description);
        parent.Core.Create(b, Text(Uuid));
        Assert.Equal(11, b.AvailableInstances);
        Assert.Equal(22, driver.Free);
        Assert.Contains(driver, parent.Core.Drivers);
    }

    [Fact]
    public void A_second_parent_of_the_same_name_is_EEXIST_and_registers_nothing()
    {
        var (core, _, driver) = Setup();
        var stray = new PoolDriver(1);
        Assert.Equal(Errno.EEXIST, ErrnoOf(() => core.RegisterParent(PoolDriver.Spec(), stray)));
        Assert.Single(core.Parents);
        Assert.Equal([driver], core.Drivers);
    }

    [Fact]
    public void Create_binds_the_device_and_lists_it_under_its_type()
    {
        var (core, parent, driver) = Setup();
        var type = parent.Types[1];
        var mdev = core.Create(type, Text(Uuid.ToUpperInvariant() + "\n"));
        Assert.Equal(Uuid, mdev.Name);
        Assert.Equal(MdevDeviceState.Active, mdev.State);
        Assert.Same(driver, mdev.DriverData);
        Assert.Same(mdev, core.FindDevice(Uuid));
        Assert.Equal([mdev], type.Devices);
        Assert.Empty(parent.Types[0].Devices);
    }

    [Fact]
    public void Duplicate_uuid_anywhere_is_EEXIST_whatever_the_case()
    {
        var (core, parent, _) = Setup();
        var other = core.RegisterParent(PoolDriver.Spec("other"), new PoolDriver(4));
        core.Create(parent.Types[0], Text(Uuid));
        Assert.Equal(Errno.EEXIST, ErrnoOf(() => core.Create(parent.Types[1], Text(Uuid.ToUpperInvariant()))));
        Assert.Equal(Errno.EEXIST, ErrnoOf(() => core.Create(other.Types[0], Text(Uuid + "\n"))));
        Assert.Single(core.Devices);
    }

    [Fact]
    public void Driver_refusal_leaves_nothing_behind()
    {
        var (core, parent, driver) = Setup(units: 2);
        core.Create(parent.Types[1], Guid.NewGuid());
        int groupsBefore = core.IommuGroups.Allocate();
        core.IommuGroups.Release(groupsBefore);
        var uuid = Guid.NewGuid();
        Assert.Equal(Errno.ENOSPC, ErrnoOf(() => core.Create(parent.Types[0], uuid)));
        Assert.Null(core.FindDevice(uuid));
        Assert.Equal(groupsBefore, core.IommuGroups.Allocate()); // the failed create's group was returned
        Assert.Equal(0, driver.Free);
    }

    [Fact]
    public void Each_device_gets_the_lowest_free_iommu_group_and_groups_are_reused()
    {
        var (core, parent, _) = Setup();
        var devices = Enumerable.Range(0, 4).Select(_ => core.Create(parent.Types[0], Guid.NewGuid())).ToArray();
        Assert.Equal([0, 1, 2, 3], devices.Select(d => d.IommuGroup));
        core.Remove(devices[1]);
        core.Remove(devices[0]);
        Assert.Equal(0, core.Create(parent.Types[0], Guid.NewGuid()).IommuGroup);
        Assert.Equal(1, core.Create(parent.Types[0], Guid.NewGuid()).IommuGroup);
        Assert.Equal(4, core.Create(parent.Types[0], Guid.NewGuid()).IommuGroup);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("1\n")]
    [InlineData("+1")]
    [InlineData("0x10")]
    [InlineData("017\n")]
    public void Remove_write_with_a_nonzero_number_removes_and_returns_resources(string written)
    {
        var (core, parent, driver) = Setup();
        var mdev = core.Create(parent.Types[1], Text(Uuid));
        core.RemoveWrite(mdev, Text(written));
        Assert.Equal(MdevDeviceState.Removed, mdev.State);
        Assert.Null(core.FindDevice(Uuid));
        Assert.Empty(parent.Types[1].Devices);
        Assert.Equal(24, driver.Free);
        Assert.Equal(1, driver.Removes);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("0\n")]
    [InlineData("00")]
    public void Remove_write_of_zero_does_nothing(string written)
    {
        var (core, parent, _) = Setup();
        var mdev = core.Create(parent.Types[0], Text(Uuid));
        core.RemoveWrite(mdev, Text(written));
        Assert.Same(mdev, core.FindDevice(Uuid));
    }

    [Theory]
    [InlineData("")]
    [InlineData("yes")]
    [InlineData("1\n\n")]
    [InlineData("-1")]
    [InlineData(" 1")]
    [InlineData("0x")]
    [InlineData("08")]
    public void Remove_write_that_is_not_a_number_is_EINVAL(string written)
    {
        var (core, parent, _) = Setup();
        var mdev = core.Create(parent.Types[0], Text(Uuid));
        Assert.Equal(Errno.EINVAL, ErrnoOf(() => core.RemoveWrite(mdev, Text(written))));
        Assert.Same(mdev, core.FindDevice(Uuid));
    }

    [Fact]
    public void Removing_a_removed_device_again_just_succeeds()
    {
        var (core, parent, driver) = Setup();
        var mdev = core.Create(parent.Types[0], Text(Uuid));
        core.Remove(mdev);
        core.Remove(mdev);
        Assert.Equal(1, driver.Removes);
    }

    [Fact]
    public void Removing_a_device_still_being_created_is_EAGAIN()
    {
        var (core, parent, driver) = Setup();
        driver.ProbeGate = new ManualResetEventSlim(false);
        var uuid = Guid.NewGuid();
        var creator = Task.Run(() => core.Create(parent.Types[0], uuid));
        Assert.True(SpinWait.SpinUntil(() => driver.Probing is not null, 10_000));
        var pending = driver.Probing!;
        Assert.Equal(MdevDeviceState.Creating, pending.State);
        Assert.Null(core.FindDevice(uuid)); // not visible until bound
        Assert.Equal(Errno.EAGAIN, ErrnoOf(() => core.Remove(pending)));
        driver.ProbeGate.Set();
        Assert.Same(pending, creator.Result);
        Assert.Equal(MdevDeviceState.Active, pending.State);
    }

    [Fact]
    public void A_device_is_visible_only_after_every_observer_accepted_it()
    {
        var (core, parent, _) = Setup();
        var type = parent.Types[0];
        var seen = new List<(MdevDeviceState State, MdevDevice? Found, int Listed, Errno Again)>();
        core.AddObserver(new Observer
        {
            Added = mdev => seen.Add((mdev.State, core.FindDevice(mdev.Uuid), type.Devices.Count,
                ErrnoOf(() => core.Create(type, mdev.Uuid)))),
        });
        var created = core.Create(type, Text(Uuid));
        var (state, found, listed, again) = Assert.Single(seen);
        Assert.Equal(MdevDeviceState.Creating, state);
        Assert.Null(found);
        Assert.Equal(0, listed);
        Assert.Equal(Errno.EEXIST, again); // the UUID is taken from the start
        Assert.Same(created, core.FindDevice(Uuid));
    }

    [Fact]
    public void A_uuid_is_free_again_only_after_every_observer_let_its_device_go()
    {
        var (core, parent, driver) = Setup();
        var type = parent.Types[0];
        using var inRemoved = new ManualResetEventSlim(false);
        using var letGo = new ManualResetEventSlim(false);
        core.AddObserver(new Observer { RemovedGate = (inRemoved, letGo) });
        var old = core.Create(type, Text(Uuid));
        var remover = Task.Run(() => core.Remove(old));
        Assert.True(inRemoved.Wait(10_000));
        Assert.Null(core.FindDevice(Uuid));                                  // gone from view
        Assert.Equal(24, driver.Free);                                       // the driver let go
        Assert.Equal(Errno.EEXIST, ErrnoOf(() => core.Create(type, Text(Uuid)))); // the kernel's answer while the old one is listed
        Assert.Equal(MdevDeviceState.Removing, old.State);
        letGo.Set();
        Assert.True(remover.Wait(10_000));
        Assert.Equal(MdevDeviceState.Removed, old.State);
        Assert.NotSame(old, core.Create(type, Text(Uuid)));
    }

    [Fact]
    public void An_observer_can_refuse_a_user_removal_and_the_device_stays_whole()
    {
        var (core, parent, driver) = Setup();
        var mdev = core.Create(parent.Types[1], Text(Uuid));
        var observer = new Observer { Refuse = Errno.EBUSY };
        core.AddObserver(observer);
        Assert.Equal(Errno.EBUSY, ErrnoOf(() => core.RemoveWrite(mdev, "1"u8)));
        Assert.Equal(MdevDeviceState.Active, mdev.State);
        Assert.Same(mdev, core.FindDevice(Uuid));
        Assert.Equal(22, driver.Free);
        observer.Refuse = null;
        core.RemoveWrite(mdev, "1"u8);
        Assert.Equal(24, driver.Free);
        Assert.Equal([mdev], observer.Removed);
    }

    [Fact]
    public void Observers_that_accepted_a_removal_hear_when_a_later_one_refuses_it()
    {
        var (core, parent, driver) = Setup();
        var mdev = core.Create(parent.Types[0], Text(Uuid));
        var first = new Observer();
        var second = new Observer();
        var refusing = new Observer { Refuse = Errno.EBUSY };
        var never = new Observer();
        var cancelLog = new List<Observer>();
        first.CancelLog = second.CancelLog = refusing.CancelLog = never.CancelLog = cancelLog;
        foreach (var o in new[] { first, second, refusing, never }) core.AddObserver(o);
        Assert.Equal(Errno.EBUSY, ErrnoOf(() => core.Remove(mdev)));
        Assert.Equal([mdev], first.Cancelled);
        Assert.Equal([mdev], second.Cancelled);
        Assert.Equal([MdevDeviceState.Active], first.StateWhenCancelled); // told once the device is back
        Assert.Empty(refusing.Cancelled);                                  // it refused: nothing to undo
        Assert.Empty(never.Asked);                                          // never asked, never told
        Assert.Empty(never.Cancelled);
        Assert.Equal([second, first], cancelLog); // latest first
        Assert.Equal(23, driver.Free);

        refusing.Refuse = null;
        core.Remove(mdev);
        Assert.Single(first.Cancelled);
        Assert.Equal([mdev], never.Removed);
    }

    [Fact]
    public void Unregistering_the_parent_removes_its_devices_first_even_if_observers_object()
    {
        var (core, parent, driver) = Setup();
        var devices = Enumerable.Range(0, 3).Select(_ => core.Create(parent.Types[0], Guid.NewGuid())).ToArray();
        var observer = new Observer { Refuse = Errno.EBUSY };
        core.AddObserver(observer);
        core.UnregisterParent(parent);
        Assert.All(devices, d => Assert.Equal(MdevDeviceState.Removed, d.State));
        Assert.Equal(24, driver.Free);
        Assert.Empty(core.Parents);
        Assert.Equal(3, observer.Removed.Count);
        Assert.Equal([parent], observer.ParentsGone);
    }

    [Fact]
    public void Create_on_an_unregistering_parent_is_ENODEV_and_unregistration_waits_for_creates_in_flight()
    {
        var (core, parent, driver) = Setup();
        driver.ProbeGate = new ManualResetEventSlim(false);
        var inFlight = Task.Run(() => core.Create(parent.Types[0], Guid.NewGuid()));
        Assert.True(SpinWait.SpinUntil(() => driver.Probing is not null, 10_000));
        var unregister = Task.Run(() => core.UnregisterParent(parent));
        Assert.True(SpinWait.SpinUntil(() => parent.IsUnregistering, 10_000));
        Assert.Equal(Errno.ENODEV, ErrnoOf(() => core.Create(parent.Types[0], Guid.NewGuid())));
        Assert.False(unregister.IsCompleted);
        driver.ProbeGate.Set();
        Assert.True(inFlight.Wait(10_000));
        Assert.True(unregister.Wait(10_000));
        Assert.Equal(MdevDeviceState.Removed, inFlight.Result.State); // created, then removed by the unregistration
        Assert.Empty(core.Devices);
        Assert.Equal(24, driver.Free);
    }

    [Fact]
    public void Concurrent_creates_and_removes_never_overcommit_and_end_where_they_began()
    {
        const int units = 10;
        var (core, parent, driver) = Setup(units);
        var uuids = Enumerable.Range(0, 16).Select(_ => Guid.NewGuid()).ToArray();
        int maxUsed = 0, created = 0, full = 0, exists = 0, overcommits = 0;
        var threads = Enumerable.Range(0, 8).Select(seed => new Thread(() =>
        {
            var rng = new Random(seed);
            for (int i = 0; i < 3000; i++)
            {
                var uuid = uuids[rng.Next(uuids.Length)];
                var existing = core.FindDevice(uuid);
                try
                {
                    if (existing is null)
                    {
                        core.Create(parent.Types[rng.Next(2)], uuid);
                        Interlocked.Increment(ref created);
                    }
                    else
                    {
                        core.Remove(existing);
                    }
                }
                catch (ErrnoException e) when (e.Errno is Errno.ENOSPC)
                {
                    Interlocked.Increment(ref full);
                }
                catch (ErrnoException e) when (e.Errno is Errno.EEXIST or Errno.EAGAIN)
                {
                    Interlocked.Increment(ref exists);
                }
                InterlockedMax(ref maxUsed, units - driver.Free);
                if (driver.Free < 0) Interlocked.Increment(ref overcommits);
            }
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();

        Assert.Equal(0, overcommits);
        Assert.InRange(maxUsed, 1, units);
        int inUse = core.Devices.Sum(d => d.Type.Spec.SysfsName == "a" ? 1 : 2);
        Assert.Equal(units - inUse, driver.Free);
        Assert.Equal(core.Devices.Count, driver.Probes - driver.Removes);
        foreach (var d in core.Devices) core.Remove(d);
        Assert.Equal(units, driver.Free);
        Assert.Empty(core.Devices);
        Assert.Equal(0, core.IommuGroups.Allocate()); // every group came back
        Assert.True(created > 100 && full > 0, $"created {created}, full {full}, exists {exists}");
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current) { }
    }

    private sealed class Observer : IMdevObserver
    {
        public Errno? Refuse;
        public List<MdevDevice> Asked { get; } = [];
        public List<MdevDevice> Removed { get; } = [];
        public List<MdevDevice> Cancelled { get; } = [];
        public List<MdevDeviceState> StateWhenCancelled { get; } = [];
        public List<MdevParent> ParentsGone { get; } = [];
        public List<Observer>? CancelLog;
        public Action<MdevDevice>? Added;
        public (ManualResetEventSlim Entered, ManualResetEventSlim Release)? RemovedGate;

        public void OnDeviceAdded(MdevDevice mdev) => Added?.Invoke(mdev);

        public void OnDeviceRemoving(MdevDevice mdev, MdevRemoveReason reason)
        {
            lock (Asked) Asked.Add(mdev);
            if (Refuse is { } errno) throw new ErrnoException(errno);
        }

        public void OnDeviceRemoveCancelled(MdevDevice mdev)
        {
            Cancelled.Add(mdev);
            StateWhenCancelled.Add(mdev.State);
            CancelLog?.Add(this);
        }

        public void OnDeviceRemoved(MdevDevice mdev)
        {
            if (RemovedGate is var (entered, release))
            {
                entered.Set();
                release.Wait();
            }
            lock (Removed) Removed.Add(mdev);
        }

        public void OnParentUnregistered(MdevParent parent) => ParentsGone.Add(parent);
    }
}
