using Umdev.Interop;
using Umdev.Vfio.Migration;
using S = Umdev.Vfio.Migration.VfioMigrationState;

namespace Umdev.Vfio.Tests;

/// <summary>Opens fake devices the way a driver registers them.</summary>
internal static class FakeDriver
{
    /// <summary>A registered device with ops made by <paramref name="factory"/>, opened.</summary>
    public static VfioDeviceFile Open(Func<IVfioDeviceOps> factory) => new VfioDevice("fake-" + Guid.NewGuid(), factory()).Open();
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
