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

/// <summary>
/// A migrating device that records every arc it is asked for and writes each arc's states into the saving
/// stream; its resuming side takes at most 16 bytes and keeps what it loads.
/// </summary>
internal sealed class RecordingOps(VfioMigrationFlags flags) : FakeOps, IVfioMigrationDriver
{
    public List<(S From, S To)> Arcs { get; } = [];
    public (S From, S To)? FailOn { get; set; }
    public byte[]? Loaded { get; private set; }

    public VfioMigrationFlags MigrationFlags => flags;
    public ulong GetStopCopySize() => 42;

    public IVfioMigrationSource StartSaving(in VfioMigrationArc arc)
    {
        Record(arc.From, arc.To);
        var source = new VfioMigrationBufferSource();
        source.Append([(byte)arc.From, (byte)arc.To]);
        return source;
    }

    public IVfioMigrationSink StartResuming(in VfioMigrationArc arc)
    {
        Record(arc.From, arc.To);
        return new Sink(this);
    }

    public void Quiesce(in VfioMigrationArc arc) => Step(arc);
    public void Resume(in VfioMigrationArc arc) => Step(arc);
    public void QuiesceP2P(in VfioMigrationArc arc) => Step(arc);
    public void ResumeP2P(in VfioMigrationArc arc) => Step(arc);
    public void EnterStopCopy(in VfioMigrationArc arc) { } // after Quiesce, which recorded the arc
    public void EndSaving(in VfioMigrationArc arc) => Step(arc);

    private void Step(in VfioMigrationArc arc)
    {
        Record(arc.From, arc.To);
        (arc.Source as VfioMigrationBufferSource)?.Append([(byte)arc.From, (byte)arc.To]);
    }

    private void Record(S from, S to)
    {
        if (FailOn == (from, to)) ThrowHelper.Throw(Errno.EIO, "injected arc failure");
        Arcs.Add((from, to));
    }

    private sealed class Sink(RecordingOps ops) : VfioMigrationBufferSink(16)
    {
        protected override void Load(ReadOnlySpan<byte> data)
        {
            ops.Record(S.Resuming, S.Stop);
            ops.Loaded = data.ToArray();
        }
    }
}
