using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.Virtio;

namespace Umdev.Devices.VirtioBlk.Tests;

/// <summary>virtio-blk driven through the real vfio-user socket by the C# guest driver.</summary>
public sealed class RequestTests : IDisposable
{
    private readonly DiskFixture _f = new();

    public void Dispose() => _f.Dispose();

    private static uint ConfigRead32(VirtioTestDriver d, uint offset)
    {
        Span<byte> b = stackalloc byte[4];
        d.Client.ReadRegion(VfioPci.ConfigRegionIndex, offset, b);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    [Fact]
    public void ConfigSpaceIsAModernVirtioBlockDeviceWithItsCapabilities()
    {
        var d = _f.Connect(_f.Create(_f.Backing(1 << 20)));
        Assert.Equal(0x1042_1af4u, ConfigRead32(d, 0));
        Assert.Equal(0x0100_0001u, ConfigRead32(d, 8));   // mass storage, revision 1
        var types = new List<(byte Type, uint Offset, uint Length)>();
        bool msix = false;
        for (uint cap = ConfigRead32(d, 0x34) & 0xff; cap != 0; cap = (ConfigRead32(d, cap) >> 8) & 0xff)
        {
            uint head = ConfigRead32(d, cap);
            if ((head & 0xff) == 0x11) msix = true;
            if ((head & 0xff) != 0x09) continue;
            if ((byte)(head >> 24) != VirtioPciLayout.PciCfg) Assert.Equal(4u, ConfigRead32(d, cap + 4) & 0xff); // BAR4
            types.Add(((byte)(head >> 24), ConfigRead32(d, cap + 8), ConfigRead32(d, cap + 12)));
        }
        Assert.True(msix);
        Assert.Equal([(1, 0x0u, 0x38u), (2, 0x3000u, 0x1000u), (3, 0x1000u, 1u), (4, 0x2000u, 60u), (5, 0u, 0u)],
            types.Select(t => (t.Type, t.Offset, t.Length)));
        Assert.Equal(0x4000ul, d.Client.GetRegionInfo(4).Size);
    }

    private static void ConfigWrite32(VirtioTestDriver d, uint offset, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        d.Client.WriteRegion(VfioPci.ConfigRegionIndex, offset, b);
    }

    [Fact]
    public void ThePciConfigurationAccessWindowReachesTheStructuresInBar4()
    {
        var d = _f.Connect(_f.Create(_f.Backing(1 << 20)));
        uint window = 0;
        for (uint cap = ConfigRead32(d, 0x34) & 0xff; cap != 0; cap = (ConfigRead32(d, cap) >> 8) & 0xff)
            if ((ConfigRead32(d, cap) & 0xff) == 0x09 && ConfigRead32(d, cap) >> 24 == VirtioPciLayout.PciCfg) window = cap;
        Assert.NotEqual(0u, window);
        Assert.Equal(20u, (ConfigRead32(d, window) >> 16) & 0xff);    // cap_len: the capability and pci_cfg_data

        void Aim(uint bar, uint offset, uint length)
        {
            ConfigWrite32(d, window + 4, bar);
            ConfigWrite32(d, window + 8, offset);
            ConfigWrite32(d, window + 12, length);
        }
        Aim(4, VirtioPciLayout.CommonOffset + 0x12, 2);                 // num_queues
        Assert.Equal(1u, ConfigRead32(d, window + 16));
        Aim(4, VirtioPciLayout.CommonOffset + 0x14, 1);                 // device_status, written through the window
        ConfigWrite32(d, window + 16, 1);                                // ACKNOWLEDGE
        Assert.Equal(1u, d.Read32(VirtioPciLayout.CommonOffset + 0x14) & 0xff);
        Assert.Equal(1u, ConfigRead32(d, window + 16) & 0xff);
        Aim(4, VirtioPciLayout.DeviceOffset, 4);                         // capacity, low half: 1 MiB / 512
        Assert.Equal(2048u, ConfigRead32(d, window + 16));

        // Another BAR, a misaligned or odd length, a target past the BAR: reads zeros, writes nothing.
        foreach (var (bar, offset, length) in new[] { (2u, 0x14u, 1u), (4u, 0x13u, 2u), (4u, 0x14u, 3u), (4u, 0x4000u, 4u) })
        {
            Aim(bar, offset, length);
            Assert.Equal(0u, ConfigRead32(d, window + 16));
            ConfigWrite32(d, window + 16, 0);
        }
        Assert.Equal(1u, d.Read32(VirtioPciLayout.CommonOffset + 0x14) & 0xff);
        // The rest of the capability stays read-only.
        ConfigWrite32(d, window, 0);
        Assert.Equal(0x09u, ConfigRead32(d, window) & 0xff);
        Assert.Equal((uint)VirtioPciLayout.PciCfg, ConfigRead32(d, window) >> 24);
    }

    [Fact]
    public void CapacityAndFeaturesComeFromTheBackingFile()
    {
        var d = _f.Connect(_f.Create(_f.Backing(3 << 20)));
        d.Start();
        Assert.Equal((ulong)(3 << 20) / 512, d.Read64(VirtioPciLayout.DeviceOffset));
        Assert.Equal(512u, d.Read32(VirtioPciLayout.DeviceOffset + 20));
        Assert.Equal(VirtioFeatures.Transport | (1UL << 2) | (1UL << 6) | (1UL << 9) | (1UL << 13) | (1UL << 14), d.OfferedFeatures);
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(3, false)]
    [InlineData(5, true)]
    public void WrittenSectorsReadBackAndLandInTheFile(int pieces, bool indirect)
    {
        string path = _f.Backing(4 << 20, seed: 7);
        var before = File.ReadAllBytes(path);
        var d = _f.Connect(_f.Create(path));
        d.Start();
        var data = new byte[64 * 1024];
        new Random(pieces).NextBytes(data);
        Assert.Equal((VirtioBlk.Ok, 1u), d.Request(VirtioBlk.Out, 8, data, writeToDevice: true, pieces, indirect));
        var back = new byte[data.Length];
        Assert.Equal((VirtioBlk.Ok, (uint)data.Length + 1), d.Request(VirtioBlk.In, 8, back, writeToDevice: false, pieces, indirect));
        Assert.Equal(data, back);
        Assert.Equal((VirtioBlk.Ok, 1u), d.Request(VirtioBlk.FlushRequest, 0, [], writeToDevice: true));
        var after = File.ReadAllBytes(path);
        Assert.Equal(data, after.AsSpan(4096, data.Length).ToArray());
        Assert.Equal(before.AsSpan(0, 4096).ToArray(), after.AsSpan(0, 4096).ToArray());
        Assert.Equal(before.AsSpan(4096 + data.Length).ToArray(), after.AsSpan(4096 + data.Length).ToArray());
    }

    [Fact]
    public void MemoryMappedWithoutADescriptorIsReachedByCopies()
    {
        string path = _f.Backing(4 << 20, seed: 9);
        var mdev = _f.Create(path);
        var client = Umdev.VfioUser.Client.VfioUserClient.Connect(Umdev.VfioUser.VfioUserService.SocketPathFor(_f.SocketDir, mdev.Uuid));
        using var ram = new GuestMemory(client);
        using var d = new VirtioTestDriver(client, ram);
        d.Start();
        var data = new byte[3 << 20]; // more than the 2 MiB bounce buffer: copied in two pieces
        new Random(5).NextBytes(data);
        Assert.Equal(VirtioBlk.Ok, d.Request(VirtioBlk.Out, 16, data, writeToDevice: true, pieces: 7).Status);
        var back = new byte[data.Length];
        Assert.Equal(VirtioBlk.Ok, d.Request(VirtioBlk.In, 16, back, writeToDevice: false, pieces: 5, indirect: true).Status);
        Assert.Equal(data, back);
        Assert.Equal(data, File.ReadAllBytes(path).AsSpan(16 * 512, data.Length).ToArray());
        Assert.True(client.DmaRequestsServed > 0);
    }

    [Fact]
    public void GetIdAnswersTheUuidsLastTwentyHexDigits()
    {
        var mdev = _f.Create(_f.Backing(1 << 20));
        var d = _f.Connect(mdev);
        d.Start();
        var id = new byte[20];
        Assert.Equal((VirtioBlk.Ok, 21u), d.Request(VirtioBlk.GetId, 0, id, writeToDevice: false));
        Assert.Equal(mdev.Uuid.ToString("N")[12..], System.Text.Encoding.ASCII.GetString(id));
    }

    [Fact]
    public void SectorsPastTheCapacityAndUnknownTypesAreRefusedInTheStatus()
    {
        string path = _f.Backing(1 << 20);
        var before = File.ReadAllBytes(path);
        var d = _f.Connect(_f.Create(path));
        d.Start();
        var data = new byte[1024];
        Assert.Equal(VirtioBlk.IoErr, d.Request(VirtioBlk.Out, 2047, data, writeToDevice: true).Status);      // crosses the end
        Assert.Equal(VirtioBlk.IoErr, d.Request(VirtioBlk.In, ulong.MaxValue, data, writeToDevice: false).Status);
        Assert.Equal(VirtioBlk.IoErr, d.Request(VirtioBlk.Out, 0, data.AsSpan(0, 100), writeToDevice: true).Status); // not whole sectors
        Assert.Equal(VirtioBlk.Unsupported, d.Request(99, 0, [], writeToDevice: true).Status);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(VirtioStatus.None, d.Status & VirtioStatus.DeviceNeedsReset);
    }

    [Fact]
    public void DiscardAndWriteZeroesClearTheirRangeOnly()
    {
        string path = _f.Backing(1 << 20, seed: 3);
        var before = File.ReadAllBytes(path);
        var d = _f.Connect(_f.Create(path));
        d.Start();
        var seg = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(seg, 16);
        BinaryPrimitives.WriteUInt32LittleEndian(seg.AsSpan(8), 8);
        Assert.Equal(VirtioBlk.Ok, d.Request(VirtioBlk.WriteZeroesRequest, 0, seg, writeToDevice: true).Status);
        BinaryPrimitives.WriteUInt64LittleEndian(seg, 64);
        Assert.Equal(VirtioBlk.Ok, d.Request(VirtioBlk.DiscardRequest, 0, seg, writeToDevice: true).Status);
        var after = File.ReadAllBytes(path);
        var expected = (byte[])before.Clone();
        Array.Clear(expected, 16 * 512, 8 * 512);
        Array.Clear(expected, 64 * 512, 8 * 512);
        Assert.Equal(expected, after);
    }

    [Fact]
    public void ReadOnlyAttributeMakesAReadOnlyDisk()
    {
        string path = _f.Backing(1 << 20);
        var before = File.ReadAllBytes(path);
        var mdev = _f.Create(null);
        DiskFixture.Disk(mdev).SetReadOnly(true);
        DiskFixture.Disk(mdev).SetBacking(path);
        var d = _f.Connect(mdev);
        d.Start();
        Assert.NotEqual(0UL, d.OfferedFeatures & (1UL << 5));
        Assert.Equal(VirtioBlk.IoErr, d.Request(VirtioBlk.Out, 0, new byte[512], writeToDevice: true).Status);
        var seg = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(seg.AsSpan(8), 1);
        Assert.Equal(VirtioBlk.IoErr, d.Request(VirtioBlk.DiscardRequest, 0, seg, writeToDevice: true).Status);
        var back = new byte[512];
        Assert.Equal(VirtioBlk.Ok, d.Request(VirtioBlk.In, 0, back, writeToDevice: false).Status);
        Assert.Equal(before.AsSpan(0, 512).ToArray(), back);
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void BackingIsRefusedWhileOpenMissingFilesAreEnoent()
    {
        var mdev = _f.Create(null);
        var disk = DiskFixture.Disk(mdev);
        Assert.Equal(Errno.ENOENT, Assert.Throws<ErrnoException>(() => disk.SetBacking(Path.Combine(_f.Dir, "missing.img"))).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => disk.SetBacking("relative.img")).Errno);
        string path = _f.Backing(1 << 20);
        disk.SetBacking(path);
        var d = _f.Connect(mdev);
        d.Start();
        Assert.Equal(Errno.EBUSY, Assert.Throws<ErrnoException>(() => disk.SetBacking(_f.Backing(1 << 20))).Errno);
        Assert.Equal(path, disk.BackingPath);
        d.Client.Dispose();
        for (int i = 0; i < 500 && ((VfioDevice)mdev.DriverData!).OpenCount > 0; i++) Thread.Sleep(10);
        disk.SetBacking(_f.Backing(2 << 20)); // closed again: allowed
    }

    [Fact]
    public void MsixVectorIsSignalledPerCompletionAndIntxWithoutIt()
    {
        var d = _f.Connect(_f.Create(_f.Backing(1 << 20)));
        using var vec0 = EventFd.Create(nonBlocking: true);
        using var vec1 = EventFd.Create(nonBlocking: true);
        d.Client.SetIrqs(new VfioIrqSet(VfioIrqSetFlags.DataEventFd | VfioIrqSetFlags.ActionTrigger, VfioPci.MsixIrqIndex, 0, 2, eventFds: new[] { vec0, vec1 }));
        d.Start();
        d.Write16(0x10, 0);            // config vector 0
        d.Write16(0x16, 0);
        // The queue was enabled by Start; its vector can still be set (Linux sets it before enabling).
        d.Write16(0x1a, 1);
        Assert.Equal((ushort)1, d.Read16(0x1a));
        d.Write16(0x1a, 7);            // beyond the table: refused, reads NO_VECTOR
        Assert.Equal(VirtioPciFunction.NoVector, d.Read16(0x1a));
        d.Write16(0x1a, 1);
        Assert.Equal(VirtioBlk.Ok, d.Request(VirtioBlk.In, 0, new byte[512], writeToDevice: false).Status);
        Assert.True(vec1.Wait(5000) > 0);
        Assert.Equal(0ul, vec0.Wait(0));
        Assert.Equal(0, d.ReadIsr());  // MSI-X: the ISR is not used

        d.Client.SetIrqs(new VfioIrqSet(VfioIrqSetFlags.DataNone | VfioIrqSetFlags.ActionTrigger, VfioPci.MsixIrqIndex, 0, 0));
        using var intx = EventFd.Create(nonBlocking: true);
        d.Client.SetIrqs(new VfioIrqSet(VfioIrqSetFlags.DataEventFd | VfioIrqSetFlags.ActionTrigger, VfioPci.IntxIrqIndex, 0, 1, eventFds: new[] { intx }));
        Assert.Equal(VirtioBlk.Ok, d.Request(VirtioBlk.In, 0, new byte[512], writeToDevice: false).Status);
        Assert.True(intx.Wait(5000) > 0);
        Assert.Equal(1, d.ReadIsr());  // queue interrupt, cleared by the read
        Assert.Equal(0, d.ReadIsr());
    }

    [Fact]
    public void ResetReturnsEveryRegisterToPowerOn()
    {
        var d = _f.Connect(_f.Create(_f.Backing(1 << 20)));
        d.Start();
        d.WriteStatus(VirtioStatus.None);
        Assert.Equal(VirtioStatus.None, d.Status);
        Assert.Equal((ushort)0, d.Read16(0x1c));
        Assert.Equal(0x0ul, d.Read64(0x20));
        Assert.Equal((ushort)256, d.Read16(0x18));
        d.Start(map: false);
        Assert.Equal(VirtioBlk.Ok, d.Request(VirtioBlk.In, 0, new byte[512], writeToDevice: false).Status);
    }
}
