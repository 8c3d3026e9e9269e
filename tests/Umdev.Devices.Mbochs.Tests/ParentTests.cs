using Umdev.Core;
using Umdev.Interop;

namespace Umdev.Devices.Mbochs.Tests;

/// <summary>mbochs.md §1.1: types, the memory pool and its accounting, the sysfs strings.</summary>
public class ParentTests
{
    [Fact]
    public void TypesAreTheSamplesWithTheirMemoryAndDescription()
    {
        var core = new MdevCore();
        var parent = Mbochs.Register(core);
        Assert.Equal(["mbochs-small", "mbochs-medium", "mbochs-large"], parent.Types.Select(t => t.Id));
        Assert.Equal(["mbochs-small", "mbochs-medium", "mbochs-large"], parent.Types.Select(t => t.Spec.PrettyName));
        Assert.Equal("virtual display, 16 MB video memory\n", parent.Driver.GetDescription(parent.Types[1]));
        Assert.Equal([64, 16, 4], parent.Types.Select(t => parent.Driver.GetAvailableInstances(t)));
        Assert.Equal("devices/virtual/mbochs/mbochs", parent.Spec.DevicePath);
        Assert.Equal("mbochs", parent.Spec.ClassName);
    }

    [Fact]
    public void CreateTakesTheTypesMemoryFromThePoolAndRemoveGivesItBack()
    {
        var core = new MdevCore();
        var parent = Mbochs.Register(core, new MbochsOptions(70));
        var large = parent.FindType("mbochs-large")!;
        var small = parent.FindType("mbochs-small")!;
        var first = core.Create(large, Guid.NewGuid());
        Assert.Equal(0, parent.Driver.GetAvailableInstances(large));
        Assert.Equal(1, parent.Driver.GetAvailableInstances(small)); // 6 MB left
        core.Create(small, Guid.NewGuid());
        var refused = Assert.Throws<ErrnoException>(() => core.Create(small, Guid.NewGuid()));
        Assert.Equal(Errno.ENOSPC, refused.Errno);
        core.Remove(first);
        Assert.Equal(1, parent.Driver.GetAvailableInstances(large));
        Assert.Equal(16, parent.Driver.GetAvailableInstances(small));
    }

    [Fact]
    public void EachDeviceShowsItsMemoryInItsVendorGroup()
    {
        var core = new MdevCore();
        var parent = Mbochs.Register(core);
        var mdev = core.Create(parent.FindType("mbochs-medium")!, Guid.NewGuid());
        var group = Assert.Single(parent.Driver.GetDeviceAttributeGroups(mdev));
        Assert.Equal("vendor", group.Name);
        var memory = Assert.Single(group.Attributes);
        Assert.Equal("memory", memory.Name);
        Assert.Equal("16 MB\n", memory.Show!());
    }

    [Fact]
    public void ThePlugInTakesThePoolAsCountAndRefusesANegativeOne()
    {
        var plugin = new MbochsParentPlugin();
        var count = Assert.Single(plugin.Options);
        Assert.Equal("count", count.Key);
        Assert.Equal("256", count.Default);
        Assert.Equal(0, count.Min);
    }
}
