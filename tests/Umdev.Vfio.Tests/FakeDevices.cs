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
    public void OpenDevice() { }
    public void CloseDevice() { }
    public VfioDeviceInfo GetDeviceInfo(uint argsz) => new(VfioDeviceFlags.Pci, 0, 0);
    public VfioRegionInfo GetRegionInfo(uint index, uint argsz) => ThrowHelper.Throw<VfioRegionInfo>(Errno.EINVAL);
    public VfioIrqInfo GetIrqInfo(uint index, uint argsz) => ThrowHelper.Throw<VfioIrqInfo>(Errno.EINVAL);
    public void SetIrqs(in VfioIrqSet irqSet) => ThrowHelper.Throw(Errno.EINVAL);
    public int Read(Span<byte> buffer, ulong offset) => ThrowHelper.Throw<int>(Errno.EINVAL);
    public int Write(ReadOnlySpan<byte> buffer, ulong offset) => ThrowHelper.Throw<int>(Errno.EINVAL);
    public void Reset() { }
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

    public void Step(in VfioMigrationArc arc)
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
