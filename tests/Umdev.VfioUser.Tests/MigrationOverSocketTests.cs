using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio.Migration;
using Umdev.VfioUser.Client;
using Umdev.VfioUser.Protocol;
using S = Umdev.Vfio.Migration.VfioMigrationState;

namespace Umdev.VfioUser.Tests;

/// <summary>Migration v2 over vfio-user (DEVICE_FEATURE, MIG_DATA_READ/WRITE) between two served mtty devices.</summary>
public class MigrationOverSocketTests
{
    private static readonly UartState Programmed = new(0x9B, 0x05, 0x5A, 0x0180, 0x01, "mig");

    private static byte[] Save(VfioUserClient c)
    {
        c.SetDeviceState(S.PreCopy);
        Assert.Equal(S.PreCopy, c.GetDeviceState());
        var header = c.ReadMigrationStream(chunk: 7);
        Assert.Equal(24, header.Length); // mtty: the precopy data is the header
        c.SetDeviceState(S.StopCopy);
        return [.. header, .. c.ReadMigrationStream(chunk: 5)];
    }

    [Fact]
    public void SaveOnOneDeviceResumesOnAnotherThroughTheSockets()
    {
        using var source = new MttyServerFixture();
        using var destination = new MttyServerFixture();
        using var s = VfioUserClient.Connect(source.SocketPath);
        using var d = VfioUserClient.Connect(destination.SocketPath);
        Assert.Equal(VfioMigrationFlags.StopCopy | VfioMigrationFlags.P2P | VfioMigrationFlags.PreCopy, s.GetMigrationFlags());
        Assert.Equal(S.Running, s.GetDeviceState());
        Assert.Equal(96ul, s.GetMigrationDataSize());
        UartState.Program(s, 0x0180, 0x05, 0x5A, "mig");

        var stream = Save(s);
        Assert.Equal(96, stream.Length);
        Assert.Equal(0x7E9D09898C3E2C4Eul, BinaryPrimitives.ReadUInt64LittleEndian(stream));

        d.SetDeviceState(S.Resuming);
        d.WriteMigrationStream(stream);
        d.SetDeviceState(S.Stop);
        d.SetDeviceState(S.Running);
        Assert.Equal(S.Running, d.GetDeviceState());

        // The destination saves exactly what it loaded.
        Assert.Equal(stream, Save(d));
        d.SetDeviceState(S.Running);
        Assert.Equal(Programmed, UartState.Observe(d));
        s.SetDeviceState(S.Running);
        Assert.Equal(Programmed, UartState.Observe(s));
    }

    [Fact]
    public void AStreamLongerThanTheServersTransferSizeIsReadWhole()
    {
        // The server accepts 56-byte transfers: a 64 KiB read must still return all 72 bytes of STOP_COPY
        // data, not stop at the first 56-byte chunk as if the stream had ended.
        using var f = new MttyServerFixture(options: new VfioUserServiceOptions { Server = new() { MaxDataXferSize = 56 } });
        using var c = VfioUserClient.Connect(f.SocketPath);
        c.SetDeviceState(S.PreCopy);
        Assert.Equal(24, c.ReadMigrationStream().Length);
        c.SetDeviceState(S.StopCopy);
        Assert.Equal(72, c.ReadMigrationStream().Length);
        c.SetDeviceState(S.Running);
    }

    [Fact]
    public void DeviceRegionsAreRefusedWhileFrozenAndConfigSpaceIsNot()
    {
        using var f = new MttyServerFixture();
        using var c = VfioUserClient.Connect(f.SocketPath);
        var config = new byte[4];
        foreach (var frozen in new[] { S.Stop, S.StopCopy, S.Resuming })
        {
            c.SetDeviceState(frozen);
            Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => UartState.Read(c, 5)).Errno);
            Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => UartState.Write(c, 7, 1)).Errno);
            Assert.Equal(4, c.ReadRegion(7, 0, config));
            Assert.Equal(0x48, config[0]);
            c.Reset(); // back to RUNNING from any state (RESUMING→STOP would refuse the empty stream)
        }
        foreach (var running in new[] { S.Running, S.PreCopy })
        {
            c.SetDeviceState(running);
            UartState.Write(c, 7, 0x33);
            Assert.Equal(0x33, UartState.Read(c, 7));
        }
    }

    [Fact]
    public void ErrorsCarryTheModelsErrno()
    {
        using var f = new MttyServerFixture();
        using var c = VfioUserClient.Connect(f.SocketPath);
        var buffer = new byte[16];
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => c.ReadMigrationData(buffer)).Errno); // RUNNING
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => c.WriteMigrationData(buffer)).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => c.SetDeviceState(S.Error)).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => c.SetDeviceState((S)8)).Errno);
        c.SetDeviceState(S.StopCopy);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => c.SetDeviceState(S.PreCopy)).Errno);
        Assert.Equal(S.StopCopy, c.GetDeviceState());
        Assert.Equal(Errno.ENOTTY, Assert.Throws<ErrnoException>(() => c.GetPrecopyInfo()).Errno);

        // Resuming: a corrupted header fails its write with EFAULT, too much data with ENOMEM, and a
        // truncated stream fails RESUMING→STOP with EINVAL, leaving the device RESUMING.
        c.SetDeviceState(S.Resuming);
        var bad = new byte[24];
        Assert.Equal(Errno.EFAULT, Assert.Throws<ErrnoException>(() => c.WriteMigrationData(bad)).Errno);
        Assert.Equal(Errno.ENOMEM, Assert.Throws<ErrnoException>(() => c.WriteMigrationData(new byte[96])).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => c.SetDeviceState(S.Stop)).Errno);
        Assert.Equal(S.Resuming, c.GetDeviceState());
        c.Reset();
        Assert.Equal(S.Running, c.GetDeviceState());
    }

    [Fact]
    public void FeatureDispatchProbeAndDmaLogging()
    {
        using var f = new MttyServerFixture();
        using var c = VfioUserClient.Connect(f.SocketPath);
        Span<byte> none = default;
        Assert.Equal(0, c.DeviceFeature(VfioDeviceFeature.Probe | VfioDeviceFeature.Get | VfioDeviceFeature.Set | VfioDeviceFeature.MigDeviceState, none, out _));
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() =>
            c.DeviceFeature(VfioDeviceFeature.Probe | VfioDeviceFeature.Set | VfioDeviceFeature.Migration, default, out _)).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => c.DeviceFeature(VfioDeviceFeature.Get | 42, new byte[8], out _)).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() =>
            c.DeviceFeature(VfioDeviceFeature.Get | VfioDeviceFeature.Set | VfioDeviceFeature.MigDeviceState, new byte[8], out _)).Errno);

        // mtty does no DMA: logging succeeds and reports nothing; no ranges = log everything (vfio-user).
        Assert.Equal(4096ul, c.StartDmaLogging(4096, [new VfioDmaLoggingRange(0, 1 << 20)]));
        Assert.Equal(4096ul, c.StartDmaLogging(4096, []));
        var bitmap = new byte[32];
        c.ReportDmaLogging(0, 256 * 4096, 4096, bitmap);
        Assert.All(bitmap, b => Assert.Equal(0, b));
        c.StopDmaLogging();
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => c.StartDmaLogging(4096, [new VfioDmaLoggingRange(1, 4096)])).Errno);
    }

    [Fact]
    public void DeviceWithoutMigrationAnswersEnotty()
    {
        using var f = new ServerFixture();
        using var c = VfioUserClient.Connect(f.SocketPath());
        Assert.Equal(Errno.ENOTTY, Assert.Throws<ErrnoException>(() => c.GetMigrationFlags()).Errno);
        Assert.Equal(Errno.ENOTTY, Assert.Throws<ErrnoException>(() => c.SetDeviceState(S.Stop)).Errno);
        Assert.Equal(Errno.ENOTTY, Assert.Throws<ErrnoException>(() => c.ReadMigrationData(new byte[8])).Errno);
    }
}
