using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.VfioUser.Protocol;

namespace Umdev.VfioUser.Tests;

public class CommandTests
{
    [Fact]
    public void DeviceInfoIsTheSixteenByteVfioUserLayout()
    {
        using var f = new ServerFixture();
        using var c = f.Negotiated();
        using var r = c.Call(VfioUserCommand.DeviceGetInfo, RawClient.U32s(16, 0, 0, 0));
        Assert.Equal(RawClient.U32s(16, 0x3, 9, 5), r.Payload);
        using var small = c.Call(VfioUserCommand.DeviceGetInfo, RawClient.U32s(8, 0, 0, 0));
        Assert.Equal(Errno.EINVAL, small.Error);
    }

    [Fact]
    public void RegionInfoWithCapsIsTruncatedToArgszThenSentWithItsDescriptor()
    {
        using var f = new ServerFixture();
        using var c = f.Negotiated();
        using (var r = c.Call(VfioUserCommand.DeviceGetRegionInfo, RawClient.U32s(32, 0, 4, 0, 0, 0, 0, 0)))
        {
            Assert.False(r.Header.IsError);
            Assert.Equal(32, r.Payload.Length);
            Assert.Equal(32u + 32u, BinaryPrimitives.ReadUInt32LittleEndian(r.Payload)); // argsz needed
            Assert.Equal(0xFu, BinaryPrimitives.ReadUInt32LittleEndian(r.Payload.AsSpan(4)));  // R|W|MMAP|CAPS
            Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(r.Payload.AsSpan(12)));   // cap_offset 0: did not fit
        }
        using (var r = c.Call(VfioUserCommand.DeviceGetRegionInfo, RawClient.U32s(64, 0, 4, 0, 0, 0, 0, 0)))
        {
            Assert.Equal(64, r.Payload.Length);
            Assert.Equal(32u, BinaryPrimitives.ReadUInt32LittleEndian(r.Payload.AsSpan(12)));
            Assert.Equal(8192ul, BinaryPrimitives.ReadUInt64LittleEndian(r.Payload.AsSpan(16)));
            Assert.Equal((ushort)1, BinaryPrimitives.ReadUInt16LittleEndian(r.Payload.AsSpan(32)));  // sparse mmap
            Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(r.Payload.AsSpan(40)));          // one area
            Assert.Equal(4096ul, BinaryPrimitives.ReadUInt64LittleEndian(r.Payload.AsSpan(48)));
            Assert.Single(r.Fds);
            // The descriptor is the region's memory: what the device wrote is visible through it.
            using var map = MemoryMapping.Map(r.Fds[0], 0, 8192, writable: true);
            unsafe { map.Pointer[4096] = 0x77; }
        }
        using (var r = c.Call(VfioUserCommand.DeviceGetRegionInfo, RawClient.U32s(32, 0, 0, 0, 0, 0, 0, 0)))
        {
            Assert.Empty(r.Fds);
            Assert.Equal(0x3u, BinaryPrimitives.ReadUInt32LittleEndian(r.Payload.AsSpan(4)));
        }
    }

    [Fact]
    public void RegionIoFdsIsAnEmptyAnswerForValidIndexes()
    {
        using var f = new ServerFixture();
        using var c = f.Negotiated();
        using (var r = c.Call(VfioUserCommand.DeviceGetRegionIoFds, RawClient.U32s(16, 0, 0, 0))) Assert.Equal(RawClient.U32s(16, 0, 0, 0), r.Payload);
        using (var r = c.Call(VfioUserCommand.DeviceGetRegionIoFds, RawClient.U32s(16, 0, 50, 0))) Assert.Equal(Errno.EINVAL, r.Error);
    }

    [Fact]
    public void IrqInfoAndEventfdDeliveryThroughSetIrqs()
    {
        using var f = new ServerFixture();
        using var c = f.Negotiated();
        using (var r = c.Call(VfioUserCommand.DeviceGetIrqInfo, RawClient.U32s(16, 0, 0, 0))) Assert.Equal(RawClient.U32s(16, 7, 0, 1), r.Payload);
        using var intx = EventFd.Create();
        using (var r = c.Call(VfioUserCommand.DeviceSetIrqs, RawClient.U32s(20, 0x24, 0, 0, 1), intx)) Assert.Equal(Errno.None, r.Error);
        f.Ops().RaiseIntx();
        Assert.Equal(1ul, intx.Wait(30000));
        // The line auto-masked: UNMASK (NONE|UNMASK), then a loopback trigger through the wire (NONE|TRIGGER count 1).
        using (var r = c.Call(VfioUserCommand.DeviceSetIrqs, RawClient.U32s(20, 0x11, 0, 0, 1))) Assert.False(r.Header.IsError);
        using (var r = c.Call(VfioUserCommand.DeviceSetIrqs, RawClient.U32s(20, 0x21, 0, 0, 1))) Assert.False(r.Header.IsError);
        Assert.Equal(1ul, intx.Wait(30000));
        // De-assign: EVENTFD with no descriptor.
        using (var r = c.Call(VfioUserCommand.DeviceSetIrqs, RawClient.U32s(20, 0x24, 0, 0, 1))) Assert.False(r.Header.IsError);
        Assert.Equal(0, f.Ops().ActiveTriggers);
    }

    [Fact]
    public void WriteMultiAppliesEveryEntryInOrder()
    {
        using var f = new ServerFixture();
        using var c = f.Negotiated();
        var p = new byte[8 + 3 * 24];
        BinaryPrimitives.WriteUInt64LittleEndian(p, 3);
        for (int i = 0; i < 3; i++)
        {
            var e = p.AsSpan(8 + 24 * i);
            BinaryPrimitives.WriteUInt64LittleEndian(e, (ulong)i);
            BinaryPrimitives.WriteUInt32LittleEndian(e[8..], 0);
            BinaryPrimitives.WriteUInt32LittleEndian(e[12..], 2);
            e[16] = (byte)(0x10 + i);
            e[17] = (byte)(0x20 + i);
        }
        using (var r = c.Call(VfioUserCommand.RegionWriteMulti, p)) Assert.Equal(3ul, BinaryPrimitives.ReadUInt64LittleEndian(r.Payload));
        using (var r = c.Call(VfioUserCommand.RegionRead, RawClient.RegionAccess(0, 0, 4))) Assert.Equal(new byte[] { 0x10, 0x11, 0x12, 0x22 }, r.Payload[16..]);
        BinaryPrimitives.WriteUInt32LittleEndian(p.AsSpan(8 + 12), 9); // count above 8
        using (var r = c.Call(VfioUserCommand.RegionWriteMulti, p)) Assert.Equal(Errno.EINVAL, r.Error);
        using (var r = c.Call(VfioUserCommand.RegionWriteMulti, p[..20])) Assert.Equal(Errno.EINVAL, r.Error);
    }

    [Fact]
    public void ResetAndFeatureReachTheModel()
    {
        using var f = new ServerFixture();
        using var c = f.Negotiated();
        using (var r = c.Call(VfioUserCommand.DeviceReset, [])) Assert.False(r.Header.IsError);
        // MIGRATION GET on a device without migration: ENOTTY from the model's dispatch.
        using (var r = c.Call(VfioUserCommand.DeviceFeature, RawClient.U32s(16, 0x10001, 0, 0))) Assert.Equal(Errno.ENOTTY, r.Error);
        using (var r = c.Call(VfioUserCommand.DeviceFeature, RawClient.U32s(16, 0x30001))) Assert.Equal(Errno.EINVAL, r.Error);
        using (var r = c.Call(VfioUserCommand.DeviceFeature, RawClient.U32s(4))) Assert.Equal(Errno.EINVAL, r.Error);
        using (var r = c.Call(VfioUserCommand.MigDataRead, RawClient.U32s(8, 16))) Assert.Equal(Errno.ENOTTY, r.Error);
    }
}
