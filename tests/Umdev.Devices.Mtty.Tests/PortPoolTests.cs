using Umdev.Core;
using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.Devices.Mtty.Tests;

/// <summary>mtty.md §1, §3 and §4: parent, types, attributes and the shared port pool.</summary>
public class PortPoolTests
{
    [Fact]
    public void Parent_types_and_attributes()
    {
        var core = new MdevCore();
        var parent = Mtty.Register(core);
        Assert.Equal("mtty", parent.Name);
        Assert.Equal("devices/virtual/mtty/mtty", parent.Spec.DevicePath);
        Assert.Equal("mtty", parent.Spec.ClassName);
        Assert.Equal("mtty", parent.Driver.Name);
        Assert.IsType<MttyDriver>(parent.Driver);
        Assert.Equal(["mtty-1", "mtty-2"], parent.Types.Select(t => t.Id));
        Assert.Equal(["Single port serial", "Dual port serial"], parent.Types.Select(t => t.Name));
        Assert.All(parent.Types, t => Assert.Equal("vfio-pci", t.DeviceApi));
        Assert.All(parent.Types, t => Assert.Null(t.Description));
        var group = Assert.Single(parent.Spec.AttributeGroups);
        Assert.Equal("mtty_dev", group.Name);
        var attr = Assert.Single(group.Attributes);
        Assert.Equal("sample_mtty_dev", attr.Name);
        Assert.Equal(MdevAttribute.ReadOnly, attr.Mode);
        Assert.Null(attr.Store);
        Assert.Equal("This is phy device\n", attr.Show!());

        var mdev = core.Create(parent.FindType("mtty-2")!, "83B8F4F2-509F-382F-3C1E-E6BFE0FA1001\n"u8);
        var vendor = Assert.Single(mdev.AttributeGroups);
        Assert.Equal("vendor", vendor.Name);
        var sample = Assert.Single(vendor.Attributes);
        Assert.Equal("sample_mdev_dev", sample.Name);
        Assert.Equal(MdevAttribute.ReadOnly, sample.Mode);
        Assert.Equal("This is MDEV 83b8f4f2-509f-382f-3c1e-e6bfe0fa1001\n", sample.Show!());
        Assert.Equal("vfio-mtty", mdev.Vfio().Ops.Name);
        Mtty.Unregister(core, parent);
        Assert.Empty(core.Parents);
        Assert.Empty(core.Drivers);
        Assert.Empty(core.Devices);
    }

    [Fact]
    public void Available_instances_follow_the_shared_pool()
    {
        var core = new MdevCore();
        var parent = Mtty.Register(core);
        var one = parent.FindType("mtty-1")!;
        var two = parent.FindType("mtty-2")!;
        Assert.Equal((24, 12), (one.AvailableInstances, two.AvailableInstances));
        var devices = Enumerable.Range(0, 12).Select(_ => core.Create(two, Guid.NewGuid())).ToList();
        Assert.Equal((0, 0), (one.AvailableInstances, two.AvailableInstances));
        Errnos.Expect(Errno.ENOSPC, () => core.Create(one, Guid.NewGuid()));
        Errnos.Expect(Errno.ENOSPC, () => core.Create(two, Guid.NewGuid()));
        Assert.Equal(12, core.Devices.Count);
        core.Remove(devices[0]);
        Assert.Equal((2, 1), (one.AvailableInstances, two.AvailableInstances));
        var single = core.Create(one, Guid.NewGuid());
        Assert.Equal((1, 0), (one.AvailableInstances, two.AvailableInstances)); // 23 ports used
        Errnos.Expect(Errno.ENOSPC, () => core.Create(two, Guid.NewGuid()));
        core.Create(one, Guid.NewGuid());
        Assert.Equal((0, 0), (one.AvailableInstances, two.AvailableInstances));
        core.Remove(single);
        foreach (var d in devices.Skip(1)) core.Remove(d);
        Assert.Equal((23, 11), (one.AvailableInstances, two.AvailableInstances));
        Mtty.Unregister(core, parent);                // removes the remaining device, returning its port
        Assert.Equal(24, ((MttyDriver)parent.Driver).AvailablePorts);
    }

    [Theory]
    [InlineData(0, 0, 0)]
    [InlineData(1, 1, 0)]
    [InlineData(5, 5, 2)]
    [InlineData(1000, 1000, 500)]
    public void Pool_size_is_a_parent_option(int ports, int singles, int duals)
    {
        var core = new MdevCore();
        var parent = Mtty.Register(core, new MttyOptions(ports));
        Assert.Equal(singles, parent.FindType("mtty-1")!.AvailableInstances);
        Assert.Equal(duals, parent.FindType("mtty-2")!.AvailableInstances);
        Mtty.Unregister(core, parent);
    }

    [Fact]
    public void Negative_pool_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Mtty.Register(new MdevCore(), new MttyOptions(-1)));
    }

    [Fact]
    public void Two_cores_have_independent_pools()
    {
        var a = new MdevCore();
        var b = new MdevCore();
        var pa = Mtty.Register(a, new MttyOptions(2));
        var pb = Mtty.Register(b, new MttyOptions(2));
        a.Create(pa.FindType("mtty-2")!, Guid.NewGuid());
        Assert.Equal(0, pa.FindType("mtty-1")!.AvailableInstances);
        Assert.Equal(2, pb.FindType("mtty-1")!.AvailableInstances);
        Mtty.Unregister(a, pa);
        Mtty.Unregister(b, pb);
    }

    [Fact]
    public void Concurrent_creates_and_removes_never_overcommit_and_end_where_they_began()
    {
        const int Pool = 24, Threads = 8, Iterations = 300;
        var core = new MdevCore();
        var parent = Mtty.Register(core, new MttyOptions(Pool));
        var driver = (MttyDriver)parent.Driver;
        int held = 0, maxHeld = 0, created = 0, refused = 0;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var threads = Enumerable.Range(0, Threads).Select(seed => new Thread(() =>
        {
            var random = new Random(seed);
            var mine = new List<(MdevDevice Device, int Ports)>();
            try
            {
                for (int i = 0; i < Iterations; i++)
                {
                    if (mine.Count > 0 && random.Next(2) == 0)
                    {
                        var (device, ports) = mine[random.Next(mine.Count)];
                        mine.Remove((device, ports));
                        Interlocked.Add(ref held, -ports);
                        core.Remove(device);
                        continue;
                    }
                    int want = random.Next(1, 3);
                    try
                    {
                        var device = core.Create(parent.FindType($"mtty-{want}")!, Guid.NewGuid());
                        int now = Interlocked.Add(ref held, want);
                        Interlocked.Increment(ref created);
                        if (now > Pool) throw new InvalidOperationException($"{now} ports held from a pool of {Pool}");
                        int seen;
                        while ((seen = Volatile.Read(ref maxHeld)) < now && Interlocked.CompareExchange(ref maxHeld, now, seen) != seen) { }
                        mine.Add((device, want));
                    }
                    catch (ErrnoException e) when (e.Errno == Errno.ENOSPC)
                    {
                        Interlocked.Increment(ref refused);
                    }
                    if (driver.AvailablePorts < 0) throw new InvalidOperationException("pool went negative");
                }
                foreach (var (device, ports) in mine)
                {
                    Interlocked.Add(ref held, -ports);
                    core.Remove(device);
                }
            }
            catch (Exception e)
            {
                failures.Enqueue(e);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Empty(failures);
        Assert.True(created > 0 && refused > 0, $"created {created}, refused {refused}: the test must hit the limit");
        Assert.True(maxHeld <= Pool);
        Assert.Equal(Pool, driver.AvailablePorts);
        Assert.Empty(core.Devices);
        Assert.Equal((24, 12), (parent.FindType("mtty-1")!.AvailableInstances, parent.FindType("mtty-2")!.AvailableInstances));
        Mtty.Unregister(core, parent);
    }
}
