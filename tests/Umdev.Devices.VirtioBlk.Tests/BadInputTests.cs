using Umdev.Interop;
using Umdev.Vfio;
using Umdev.Virtio;

namespace Umdev.Devices.VirtioBlk.Tests;

/// <summary>
/// A driver that breaks the ring rules gets DEVICE_NEEDS_RESET and a configuration interrupt, one that
/// sends a bad request gets IOERR; either way nothing is written to the disk, the other disk keeps
/// working, and after a reset so does this one.
/// </summary>
public sealed class BadInputTests : IDisposable
{
    private const ulong RamEnd = GuestMemory.Base + GuestMemory.Size;
    private readonly DiskFixture _f = new();
    private readonly string _path;
    private readonly byte[] _before;
    private readonly VirtioTestDriver _d, _other;
    private readonly EventFd _config = EventFd.Create(nonBlocking: true), _queue = EventFd.Create(nonBlocking: true);

    public BadInputTests()
    {
        _path = _f.Backing(1 << 20, seed: 11);
        _before = File.ReadAllBytes(_path);
        _d = _f.Connect(_f.Create(_path));
        _d.Client.SetIrqs(new VfioIrqSet(VfioIrqSetFlags.DataEventFd | VfioIrqSetFlags.ActionTrigger, VfioPci.MsixIrqIndex, 0, 2, eventFds: new[] { _config, _queue }));
        _d.Start();
        _d.Write16(0x10, 0); // configuration changes on vector 0
        _other = _f.Connect(_f.Create(_f.Backing(1 << 20, seed: 12)));
        _other.Start();
    }

    public void Dispose()
    {
        _f.Dispose();
        _config.Dispose();
        _queue.Dispose();
    }

    public static TheoryData<string> RingViolations =>
    [
        "loop", "next past the queue", "head past the queue", "avail.idx too far ahead", "chain longer than the queue",
        "buffer outside the mappings", "buffer crossing the end of the mapping", "ring outside the mappings",
        "indirect without the feature", "indirect with NEXT", "empty indirect table", "indirect table not whole descriptors",
        "indirect table larger than the queue", "nested indirect", "indirect loop", "indirect next past the table",
        "readable after writable", "no status byte", "status byte outside the mappings", "unaligned descriptor table",
        "unaligned used ring", "queue size not a power of two",
    ];

    [Theory]
    [MemberData(nameof(RingViolations))]
    public void RingViolationSetsNeedsResetWritesNothingAndSparesTheOtherDisk(string violation)
    {
        Break(violation);
        Assert.True(_d.WaitNeedsReset(), $"{violation}: no DEVICE_NEEDS_RESET");
        Assert.True(_config.Wait(5000) > 0, $"{violation}: no configuration interrupt");
        Assert.Null(_d.WaitUsed(100));
        Assert.Equal(_before, File.ReadAllBytes(_path));
        Assert.Equal(VirtioBlk.Ok, _other.Request(VirtioBlk.Out, 0, new byte[4096], writeToDevice: true).Status);

        _d.Start(map: false); // the driver resets the device and starts over
        Assert.Equal(VirtioStatus.None, _d.Status & VirtioStatus.DeviceNeedsReset);
        var back = new byte[1024];
        Assert.Equal(VirtioBlk.Ok, _d.Request(VirtioBlk.In, 2, back, writeToDevice: false).Status);
        Assert.Equal(_before.AsSpan(1024, 1024).ToArray(), back);
    }

    private void Break(string violation)
    {
        const ulong D = VirtioTestDriver.Desc, T = VirtioTestDriver.Tables, H = VirtioTestDriver.Headers, X = VirtioTestDriver.Data;
        const ushort Next = 1, Write = 2, Indirect = 4;
        // A write request whose data would land in sector 0 if it were served.
        new byte[16].AsSpan().CopyTo(_d.Ram.At(H, 16));
        _d.Ram.At(H, 1)[0] = (byte)VirtioBlk.Out;
        _d.Ram.At(X, 512).Fill(0xaa);
        void Valid3(ushort at) // header, data, status at descriptors at, at+1, at+2
        {
            _d.SetDesc(D, at, H, 16, Next, (ushort)(at + 1));
            _d.SetDesc(D, at + 1, X, 512, Next, (ushort)(at + 2));
            _d.SetDesc(D, at + 2, H + 16, 1, Write, 0);
        }
        void IndirectTable(uint length, ushort flags = Indirect) => _d.SetDesc(D, 0, T, length, flags, 0);
        switch (violation)
        {
            case "loop":
                Valid3(0);
                _d.SetDesc(D, 2, H + 16, 1, Write | Next, 0);
                break;
            case "next past the queue":
                Valid3(0);
                _d.SetDesc(D, 1, X, 512, Next, VirtioTestDriver.QueueSize);
                break;
            case "head past the queue":
                Valid3(0);
                _d.Publish(VirtioTestDriver.QueueSize);
                _d.Kick();
                return;
            case "avail.idx too far ahead":
                Valid3(0);
                BitConverter.TryWriteBytes(_d.Ram.At(VirtioTestDriver.Avail + 2, 2), (ushort)(VirtioTestDriver.QueueSize + 1));
                _d.Kick();
                return;
            case "chain longer than the queue":
                for (ushort i = 0; i < VirtioTestDriver.QueueSize; i++) _d.SetDesc(D, i, X, 512, Next, (ushort)(i + 1));
                _d.SetDesc(D, VirtioTestDriver.QueueSize - 1, X, 512, Next, 0);
                break;
            case "buffer outside the mappings":
                Valid3(0);
                _d.SetDesc(D, 1, RamEnd + 0x10000, 512, Next, 2);
                break;
            case "buffer crossing the end of the mapping":
                Valid3(0);
                _d.SetDesc(D, 1, RamEnd - 256, 512, Next, 2);
                break;
            case "ring outside the mappings":
                Requeue(RamEnd, VirtioTestDriver.Avail, VirtioTestDriver.Used, VirtioTestDriver.QueueSize, driverOk: true);
                _d.Publish(0);
                _d.Kick();
                return;
            case "indirect without the feature":
                Requeue(D, VirtioTestDriver.Avail, VirtioTestDriver.Used, VirtioTestDriver.QueueSize, driverOk: true);
                ValidTable();
                IndirectTable(48);
                break;
            case "indirect with NEXT":
                ValidTable();
                IndirectTable(48, Indirect | Next);
                break;
            case "empty indirect table":
                ValidTable();
                IndirectTable(0);
                break;
            case "indirect table not whole descriptors":
                ValidTable();
                IndirectTable(47);
                break;
            case "indirect table larger than the queue":
                for (ushort i = 0; i <= VirtioTestDriver.QueueSize; i++) _d.SetDesc(T, i, X, 512, Next, (ushort)(i + 1));
                IndirectTable((VirtioTestDriver.QueueSize + 1) * 16u);
                break;
            case "nested indirect":
                ValidTable();
                _d.SetDesc(T, 1, T + 0x100, 16, Indirect | Next, 2);
                IndirectTable(48);
                break;
            case "indirect loop":
                ValidTable();
                _d.SetDesc(T, 2, H + 16, 1, Write | Next, 0);
                IndirectTable(48);
                break;
            case "indirect next past the table":
                ValidTable();
                _d.SetDesc(T, 1, X, 512, Next, 3);
                IndirectTable(48);
                break;
            case "readable after writable":
                Valid3(0);
                _d.SetDesc(D, 1, X, 512, Write | Next, 2);
                _d.SetDesc(D, 2, H + 16, 1, Next, 3);
                _d.SetDesc(D, 3, H + 17, 1, Write, 0);
                break;
            case "no status byte":
                Valid3(0);
                _d.SetDesc(D, 1, X, 512, 0, 0);
                break;
            case "status byte outside the mappings":
                Valid3(0);
                _d.SetDesc(D, 2, RamEnd, 1, Write, 0);
                break;
            case "unaligned descriptor table":
                Requeue(D + 8, VirtioTestDriver.Avail, VirtioTestDriver.Used, VirtioTestDriver.QueueSize);
                return;
            case "unaligned used ring":
                Requeue(D, VirtioTestDriver.Avail, VirtioTestDriver.Used + 2, VirtioTestDriver.QueueSize);
                return;
            case "queue size not a power of two":
                Requeue(D, VirtioTestDriver.Avail, VirtioTestDriver.Used, 48);
                return;
            default:
                throw new ArgumentException(violation);
        }
        _d.Publish(0);
        _d.Kick();

        void ValidTable()
        {
            _d.SetDesc(T, 0, H, 16, Next, 1);
            _d.SetDesc(T, 1, X, 512, Next, 2);
            _d.SetDesc(T, 2, H + 16, 1, Write, 0);
        }
    }

    /// <summary>A reset, VERSION_1 alone negotiated, a queue programmed with the given values and enabled (then DRIVER_OK if asked).</summary>
    private void Requeue(ulong desc, ulong avail, ulong used, ushort size, bool driverOk = false)
    {
        _d.WriteStatus(VirtioStatus.None);
        _d.WriteStatus(VirtioStatus.Acknowledge | VirtioStatus.Driver);
        _d.Write32(0x08, 1); _d.Write32(0x0c, 1);
        _d.WriteStatus(VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.FeaturesOk);
        _d.Write16(0x10, 0);
        _d.ProgramQueue(size, desc, avail, used);
        _d.Write16(0x1c, 1);
        if (driverOk) _d.WriteStatus(VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.FeaturesOk | VirtioStatus.DriverOk);
    }

    [Fact]
    public void HeaderInADeviceWritableBufferIsAnIoError()
    {
        const ulong H = VirtioTestDriver.Headers;
        new byte[16].AsSpan().CopyTo(_d.Ram.At(H, 16));
        _d.Ram.At(H + 16, 1)[0] = 0xff;
        _d.SetDesc(VirtioTestDriver.Desc, 0, H, 16, 1 | 2, 1);
        _d.SetDesc(VirtioTestDriver.Desc, 1, H + 16, 1, 2, 0);
        _d.Publish(0);
        _d.Kick();
        Assert.NotNull(_d.WaitUsed());
        Assert.Equal(VirtioBlk.IoErr, _d.Ram.At(H + 16, 1)[0]);
        Assert.Equal(VirtioStatus.None, _d.Status & VirtioStatus.DeviceNeedsReset);
        Assert.Equal(_before, File.ReadAllBytes(_path));
    }
}
