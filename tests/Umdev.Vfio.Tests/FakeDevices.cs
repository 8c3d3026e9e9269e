using Umdev.Core;
using Umdev.Interop;
using Umdev.Vfio.Migration;
using S = Umdev.Vfio.Migration.VfioMigrationState;

namespace Umdev.Vfio.Tests;

/// <summary>A bus driver binding every device to ops made by a factory.</summary>
internal sealed class FakeDriver(Func<IVfioDeviceOps> factory) : MdevDriver
{
    public override string Name => "fake";
    public override void Probe(MdevDevice mdev) => VfioDevice.RegisterEmulatedIommuDevice(mdev, factory());
    public override void Remove(MdevDevice mdev) => VfioDevice.Unregister(mdev);
    public override int GetAvailableInstances(MdevType type) => 1000;

    /// <summary>A core with one fake parent and one open device made by <paramref name="factory"/>.</summary>
    public static VfioDeviceFile Open(Func<IVfioDeviceOps> factory)
    {
        var core = new MdevCore();
        var parent = core.RegisterParent(new MdevParentSpec("fake", "devices/virtual/fake/fake", "fake", null,
            [new MdevTypeSpec("1", null, VfioPci.DeviceApi)]), new FakeDriver(factory));
        var mdev = core.Create(parent.Types[0], Guid.NewGuid());
        return VfioDevice.Open(core, mdev.Name);
    }
}

/// <summary>Ops with no regions or IRQs.</summary>
internal class FakeOps : IVfioDeviceOps
{
    public string Name => "fake";
    public VfioDeviceLayout Layout { get; init; } = new() { NumRegions = 0 };
}

/// <summary>A migrating device that records every arc it is asked for and writes its name into saving streams.</summary>
internal sealed class RecordingOps(VfioMigrationFlags flags) : FakeOps, IVfioMigrationDriver
{
    public List<(S From, S To)> Arcs { get; } = [];
    public (S From, S To)? FailOn { get; set; }
    public byte[]? Loaded { get; private set; }

    public VfioMigrationFlags MigrationFlags => flags;
    public ulong GetStopCopySize() => 42;
    public int ResumeCapacity => 16;

    public void Step(in VfioMigrationArc arc)
    {
        if (FailOn == (arc.From, arc.To)) ThrowHelper.Throw(Errno.EIO, "injected arc failure");
        Arcs.Add((arc.From, arc.To));
        arc.Saving?.Append([(byte)arc.From, (byte)arc.To]);
        if (arc.From == S.Resuming) Loaded = arc.Resumed.ToArray();
    }
}
