using Umdev.Interop;
using Umdev.Vfio.Migration;
using S = Umdev.Vfio.Migration.VfioMigrationState;

namespace Umdev.Vfio.Tests;

/// <summary>Declared regions: bounds checked by the model, and the driver's freeze policy applied in process.</summary>
public class RegionTests
{
    private static void Expect(Errno errno, Action action) => Assert.Equal(errno, Assert.Throws<ErrnoException>(action).Errno);

    private sealed class Counter
    {
        public int Calls;
        public readonly byte[] Bytes = new byte[16];
        public VfioEmulatedRegion Region(uint index) => new(index, 16, Read, Write);

        public VfioEmulatedRegion OpenWhileFrozen(uint index) => new(index, 16, Read, Write) { AccessibleWhileFrozen = true };

        private void Read(ulong offset, Span<byte> data)
        {
            Calls++;
            Bytes.AsSpan((int)offset, data.Length).CopyTo(data);
        }

        private void Write(ulong offset, ReadOnlySpan<byte> data)
        {
            Calls++;
            data.CopyTo(Bytes.AsSpan((int)offset));
        }
    }

    [Fact]
    public void Accesses_outside_a_declared_region_never_reach_the_driver()
    {
        var bar = new Counter();
        using var file = FakeDriver.Open(() => new FakeOps { Layout = new() { Regions = [bar.Region(0)] } });
        Expect(Errno.EINVAL, () => file.ReadRegion(0, 0, new byte[17]));
        Expect(Errno.EINVAL, () => file.ReadRegion(0, 16, new byte[1]));
        Expect(Errno.EINVAL, () => file.WriteRegion(0, ulong.MaxValue >> 24, new byte[1]));
        Expect(Errno.EINVAL, () => file.Write(new byte[2], VfioPci.IndexToOffset(1) - 1)); // crosses into region 1
        Expect(Errno.EINVAL, () => file.ReadRegion(1, 0, new byte[1]));                  // not declared
        Expect(Errno.EINVAL, () => file.ReadRegion(VfioPci.MaxRegionIndex, 0, new byte[1]));
        Assert.Equal(0, bar.Calls);
        Assert.Equal(16, file.WriteRegion(0, 0, new byte[16]));
        Assert.Equal(1, bar.Calls);
        var info = file.GetRegionInfo(1);
        Assert.Equal((0ul, VfioRegionFlags.None), (info.Size, info.Flags));
        Expect(Errno.EINVAL, () => file.GetRegionInfo(9));
    }

    [Fact]
    public void The_drivers_freeze_policy_applies_in_process()
    {
        var frozenRefused = new Counter();
        var frozenAllowed = new Counter();
        var config = new Counter();
        using var file = FakeDriver.Open(() => new RecordingOps(VfioMigrationFlags.StopCopy)
        {
            Layout = new() { Regions = [frozenRefused.Region(0), frozenAllowed.OpenWhileFrozen(1), config.Region(VfioPci.ConfigRegionIndex)] },
        });
        var one = new byte[1];
        file.SetDeviceState(S.Stop);
        Expect(Errno.EINVAL, () => file.ReadRegion(0, 0, one));
        Expect(Errno.EINVAL, () => file.WriteRegion(0, 0, one));
        file.ReadRegion(1, 0, one);
        file.ReadRegion(VfioPci.ConfigRegionIndex, 0, one);  // config space answers a stopped device
        Assert.Equal((0, 1, 1), (frozenRefused.Calls, frozenAllowed.Calls, config.Calls));
        file.SetDeviceState(S.Running);
        file.ReadRegion(0, 0, one);
        Assert.Equal(1, frozenRefused.Calls);
    }
}
