using Umdev.Interop;
using Umdev.Vfio.Migration;
using F = Umdev.Vfio.Migration.VfioMigrationFlags;
using S = Umdev.Vfio.Migration.VfioMigrationState;

namespace Umdev.Vfio.Tests;

public class MigrationStateMachineTests
{
    private const F All = F.StopCopy | F.P2P | F.PreCopy;

    private static readonly S[] States = [S.Stop, S.Running, S.StopCopy, S.Resuming, S.RunningP2P, S.PreCopy, S.PreCopyP2P];

    /// <summary>The single arcs of vfio-api.md §5.2 (all features).</summary>
    private static readonly HashSet<(S, S)> DriverArcs =
    [
        (S.Running, S.RunningP2P), (S.RunningP2P, S.Running), (S.RunningP2P, S.Stop), (S.Stop, S.RunningP2P),
        (S.Stop, S.StopCopy), (S.StopCopy, S.Stop), (S.Stop, S.Resuming), (S.Resuming, S.Stop),
        (S.Running, S.PreCopy), (S.PreCopy, S.Running), (S.RunningP2P, S.PreCopyP2P), (S.PreCopyP2P, S.RunningP2P),
        (S.PreCopy, S.PreCopyP2P), (S.PreCopyP2P, S.PreCopy), (S.PreCopyP2P, S.StopCopy),
    ];

    public static TheoryData<S, S, S[]> SpecPaths => new()
    {
        { S.Running, S.Stop, [S.RunningP2P, S.Stop] },
        { S.Running, S.StopCopy, [S.RunningP2P, S.Stop, S.StopCopy] },
        { S.Resuming, S.Running, [S.Stop, S.RunningP2P, S.Running] },
        { S.StopCopy, S.Running, [S.Stop, S.RunningP2P, S.Running] },
        { S.PreCopy, S.StopCopy, [S.PreCopyP2P, S.StopCopy] },
        { S.Stop, S.PreCopy, [S.RunningP2P, S.Running, S.PreCopy] },
        { S.Running, S.Resuming, [S.RunningP2P, S.Stop, S.Resuming] },
        { S.StopCopy, S.Resuming, [S.Stop, S.Resuming] },
        { S.PreCopyP2P, S.Running, [S.RunningP2P, S.Running] },
        { S.Running, S.PreCopyP2P, [S.RunningP2P, S.PreCopyP2P] },
        { S.PreCopy, S.Stop, [S.Running, S.RunningP2P, S.Stop] },
    };

    [Theory, MemberData(nameof(SpecPaths))]
    public void Paths_of_the_kernel_table(S from, S to, S[] path) =>
        Assert.Equal(path, VfioMigrationStateTable.Path(from, to, All));

    [Fact]
    public void Every_allowed_transition_decomposes_into_driver_arcs_only()
    {
        int pairs = 0;
        foreach (var from in States)
        foreach (var to in States)
        {
            if (from == S.StopCopy && to is S.PreCopy or S.PreCopyP2P) continue;
            var current = from;
            foreach (var next in VfioMigrationStateTable.Path(from, to, All))
            {
                Assert.Contains((current, next), DriverArcs);
                current = next;
            }
            Assert.Equal(to, current);
            pairs++;
        }
        Assert.Equal(47, pairs);
    }

    [Theory]
    [InlineData(S.StopCopy, S.PreCopy)]
    [InlineData(S.StopCopy, S.PreCopyP2P)]
    [InlineData(S.Running, S.Error)]
    [InlineData(S.Error, S.Running)]
    [InlineData(S.Error, S.Stop)]
    [InlineData(S.Running, (S)8)]
    [InlineData((S)9, S.Running)]
    public void Forbidden_transitions_are_einval(S from, S to) =>
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => VfioMigrationStateTable.NextState(from, to, All)).Errno);

    [Fact]
    public void Without_p2p_the_walk_skips_the_p2p_states()
    {
        const F flags = F.StopCopy | F.PreCopy;
        Assert.Equal([S.Stop], VfioMigrationStateTable.Path(S.Running, S.Stop, flags));
        Assert.Equal([S.Running], VfioMigrationStateTable.Path(S.Stop, S.Running, flags));
        Assert.Equal([S.StopCopy], VfioMigrationStateTable.Path(S.PreCopy, S.StopCopy, flags));
        Assert.Equal([S.Stop, S.StopCopy], VfioMigrationStateTable.Path(S.Running, S.StopCopy, flags));
        Assert.Equal([S.Running, S.PreCopy], VfioMigrationStateTable.Path(S.Stop, S.PreCopy, flags));
        Assert.Throws<ErrnoException>(() => VfioMigrationStateTable.NextState(S.Running, S.RunningP2P, flags));
        Assert.Throws<ErrnoException>(() => VfioMigrationStateTable.NextState(S.Running, S.PreCopyP2P, flags));
    }

    [Fact]
    public void Stop_copy_only_devices_have_no_precopy_or_p2p()
    {
        Assert.Equal([S.Stop], VfioMigrationStateTable.Path(S.Running, S.Stop, F.StopCopy));
        Assert.Equal([S.Stop, S.Running], VfioMigrationStateTable.Path(S.Resuming, S.Running, F.StopCopy));
        foreach (var unsupported in new[] { S.RunningP2P, S.PreCopy, S.PreCopyP2P })
            Assert.Throws<ErrnoException>(() => VfioMigrationStateTable.NextState(S.Running, unsupported, F.StopCopy));
        Assert.Throws<ErrnoException>(() => VfioMigrationStateTable.NextState(S.Running, S.Stop, F.P2P)); // STOP_COPY is mandatory
    }

    public static TheoryData<F> FlagSets => new() { All, F.StopCopy | F.PreCopy, F.StopCopy | F.P2P, F.StopCopy };

    [Theory, MemberData(nameof(FlagSets))]
    public void The_driver_sees_exactly_the_arcs_of_each_path(F flags)
    {
        foreach (var from in States.Where(s => VfioMigrationStateTable.IsSupported(s, flags)))
        foreach (var to in States.Where(s => VfioMigrationStateTable.IsSupported(s, flags)))
        {
            if (from == S.StopCopy && to is S.PreCopy or S.PreCopyP2P) continue;
            var ops = new RecordingOps(flags);
            using var file = FakeDriver.Open(() => ops);
            file.SetDeviceState(from)?.Dispose();
            ops.Arcs.Clear();
            using var data = file.SetDeviceState(to);
            var expected = new List<(S, S)>();
            var current = from;
            foreach (var next in VfioMigrationStateTable.Path(from, to, flags)) { expected.Add((current, next)); current = next; }
            Assert.Equal(expected, ops.Arcs);
            Assert.Equal(to, file.GetDeviceState());
            bool opens = expected.Count > 0 && expected[^1] is (S.Running, S.PreCopy) or (S.RunningP2P, S.PreCopyP2P) or (S.Stop, S.StopCopy) or (S.Stop, S.Resuming);
            Assert.Equal(opens, data is not null);
        }
    }

    [Fact]
    public void A_failing_arc_leaves_the_state_of_the_last_successful_arc()
    {
        var ops = new RecordingOps(All) { FailOn = (S.Stop, S.StopCopy) };
        using var file = FakeDriver.Open(() => ops);
        Assert.Equal(Errno.EIO, Assert.Throws<ErrnoException>(() => file.SetDeviceState(S.StopCopy)).Errno);
        Assert.Equal(S.Stop, file.GetDeviceState());
        Assert.Equal([(S.Running, S.RunningP2P), (S.RunningP2P, S.Stop)], ops.Arcs);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => file.ReadMigrationData(new byte[4])).Errno);
        ops.FailOn = null;
        using var data = file.SetDeviceState(S.StopCopy)!;
        var bytes = new byte[8];
        Assert.Equal(2, data.Read(bytes));
        Assert.Equal(new byte[] { (byte)S.Stop, (byte)S.StopCopy }, bytes[..2]);
    }

    [Fact]
    public void Saving_session_spans_precopy_and_stop_copy()
    {
        var ops = new RecordingOps(All);
        using var file = FakeDriver.Open(() => ops);
        using var data = file.SetDeviceState(S.PreCopy)!;
        Assert.Null(file.SetDeviceState(S.StopCopy));
        var bytes = new byte[16];
        int n = data.Read(bytes);
        Assert.Equal(new byte[] { 2, 6, 6, 7, 7, 3 }, bytes[..n]); // RUNNING→PRE_COPY, →PRE_COPY_P2P, →STOP_COPY
    }

    [Fact]
    public void Resuming_session_hands_every_byte_to_the_driver_and_enforces_its_capacity()
    {
        var ops = new RecordingOps(All);
        using var file = FakeDriver.Open(() => ops);
        using var data = file.SetDeviceState(S.Resuming)!;
        Assert.Equal(10, data.Write(new byte[10]));
        Assert.Equal(Errno.ENOMEM, Assert.Throws<ErrnoException>(() => data.Write(new byte[7])).Errno);
        Assert.Equal(6, data.Write([1, 2, 3, 4, 5, 6]));
        file.SetDeviceState(S.Running);
        Assert.Equal([.. new byte[10], 1, 2, 3, 4, 5, 6], ops.Loaded);
        Assert.Equal(Errno.ENODEV, Assert.Throws<ErrnoException>(() => data.Write([1])).Errno);
    }

    [Fact]
    public void Reset_leaves_any_state_for_running()
    {
        var ops = new RecordingOps(All);
        using var file = FakeDriver.Open(() => ops);
        file.SetDeviceState(S.Resuming)!.Dispose();
        file.Reset();
        Assert.Equal(S.Running, file.GetDeviceState());
    }

    [Fact]
    public void Devices_without_migration_answer_enotty()
    {
        using var file = FakeDriver.Open(() => new FakeOps());
        Assert.Null(file.Device.Migration);
        Assert.Equal(Errno.ENOTTY, Assert.Throws<ErrnoException>(() => file.GetMigrationFlags()).Errno);
        Assert.Equal(Errno.ENOTTY, Assert.Throws<ErrnoException>(() => file.SetDeviceState(S.Stop)).Errno);
        Assert.Equal(Errno.ENOTTY, Assert.Throws<ErrnoException>(() => file.StopDmaLogging()).Errno);
        var data = new byte[8];
        Assert.Equal(Errno.ENOTTY, Assert.Throws<ErrnoException>(() => file.DeviceFeature(VfioDeviceFeature.Get | VfioDeviceFeature.Migration, data, out _)).Errno);
        Assert.Equal(Errno.ENOTTY, Assert.Throws<ErrnoException>(() => file.DeviceFeature(VfioDeviceFeature.Set | VfioDeviceFeature.DmaLoggingStop, data, out _)).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => file.DeviceFeature(VfioDeviceFeature.Get | 12, data, out _)).Errno);
        file.Reset();
    }

    [Fact]
    public void Driver_flags_must_include_stop_copy()
    {
        Assert.ThrowsAny<Exception>(() => FakeDriver.Open(() => new RecordingOps(F.P2P)));
    }
}

/// <summary>A driver lists only the transitions it works in; the model calls each arc's kind and nothing else.</summary>
public class MigrationTransitionKindTests
{
    private sealed class KindOps : FakeOps, IVfioMigrationDriver
    {
        public List<string> Calls { get; } = [];
        public VfioMigrationFlags MigrationFlags => VfioMigrationFlags.StopCopy | VfioMigrationFlags.P2P | VfioMigrationFlags.PreCopy;
        public ulong GetStopCopySize() => 0;
        public IVfioMigrationSource StartSaving(in VfioMigrationArc arc) { Calls.Add($"save {arc.From}"); return new VfioMigrationBufferSource(); }
        public IVfioMigrationSink StartResuming(in VfioMigrationArc arc) => new NoSink();
        public void Quiesce(in VfioMigrationArc arc) => Calls.Add($"quiesce {arc.From}");
        public void Resume(in VfioMigrationArc arc) => Calls.Add($"resume {arc.To}");
        public void EnterStopCopy(in VfioMigrationArc arc) => Calls.Add($"stop-copy {arc.Source is not null}");
    }

    private sealed class NothingToDoOps : FakeOps, IVfioMigrationDriver
    {
        public VfioMigrationFlags MigrationFlags => VfioMigrationFlags.StopCopy | VfioMigrationFlags.P2P | VfioMigrationFlags.PreCopy;
        public ulong GetStopCopySize() => 0;
        public IVfioMigrationSource StartSaving(in VfioMigrationArc arc) => new VfioMigrationBufferSource();
        public IVfioMigrationSink StartResuming(in VfioMigrationArc arc) => new NoSink();
    }

    private sealed class NoSink() : VfioMigrationBufferSink(0)
    {
        protected override void Load(ReadOnlySpan<byte> data) { }
    }

    [Fact]
    public void EachArcReachesTheMethodOfItsKind()
    {
        var ops = new KindOps();
        using var file = FakeDriver.Open(() => ops);
        file.SetDeviceState(S.PreCopy)?.Dispose();
        file.SetDeviceState(S.StopCopy)?.Dispose();
        file.SetDeviceState(S.Running);
        Assert.Equal(["save Running", "quiesce PreCopyP2P", "stop-copy True", "resume RunningP2P"], ops.Calls);
    }

    [Fact]
    public void ADriverWithNoTransitionWorkWalksEveryPath()
    {
        using var file = FakeDriver.Open(() => new NothingToDoOps());
        foreach (var to in new[] { S.RunningP2P, S.PreCopyP2P, S.PreCopy, S.StopCopy, S.Stop, S.Resuming })
        {
            file.SetDeviceState(to)?.Dispose();
            Assert.Equal(to, file.GetDeviceState());
        }
        file.Reset();
        Assert.Equal(S.Running, file.GetDeviceState());
    }
}
