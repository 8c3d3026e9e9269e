using Umdev.Interop;
using Umdev.Vfio;
using Umdev.Vfio.Migration;
using Umdev.VfioUser.Client;
using Umdev.Virtio;
using S = Umdev.Vfio.Migration.VfioMigrationState;

namespace Umdev.Devices.VirtioBlk.Tests;

/// <summary>
/// A disk moved between two daemons (two cores, two vfio-user services) on the same backing file and the
/// same guest RAM: STOP drains, the stream carries the queue state, and requests queued before the move
/// and after it complete on the target with the used ring continuing where the source left it.
/// </summary>
public sealed class MigrationTests : IDisposable
{
    private readonly DiskFixture _source, _target;

    public MigrationTests()
    {
        _source = new();
        _target = new(_source.Dir); // the same files: both daemons' disk directories hold them
    }

    public void Dispose()
    {
        _source.Dispose();
        _target.Dispose();
    }

    [Fact]
    public void DiskMovedBetweenDaemonsResumesItsQueue()
    {
        string path = _source.Backing(1 << 20, seed: 31);
        var d = _source.Connect(_source.Create(path));
        d.Start();
        var first = new byte[4096];
        new Random(1).NextBytes(first);
        Assert.Equal(VirtioBlk.Ok, d.Request(VirtioBlk.Out, 0, first, writeToDevice: true).Status);
        Assert.Equal(VfioMigrationFlags.StopCopy, d.Client.GetMigrationFlags() & VfioMigrationFlags.StopCopy);

        // Queued but not yet rung: the source stops before it looks at the ring.
        var second = new byte[2048];
        new Random(2).NextBytes(second);
        var (head, status) = d.Build(VirtioBlk.Out, 100, second, writeToDevice: true);
        d.Client.SetDeviceState(S.Stop);
        d.Publish(head);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(d.Kick).Errno); // a stopped device takes no doorbell
        Assert.Null(d.WaitUsed(200));
        d.Client.SetDeviceState(S.StopCopy);
        var stream = d.Client.ReadMigrationStream();
        d.Client.SetDeviceState(S.Stop);

        var targetDisk = _target.Create(path);
        var client = VfioUserClient.Connect(Umdev.VfioUser.VfioUserService.SocketPathFor(_target.SocketDir, targetDisk.Uuid));
        client.MapDma(GuestMemory.Base, GuestMemory.Size, VfioDmaProtection.Read | VfioDmaProtection.Write, d.Ram.Fd);
        client.SetDeviceState(S.Resuming);
        client.WriteMigrationStream(stream);
        client.SetDeviceState(S.Stop);
        client.SetDeviceState(S.Running);
        d.MoveTo(client);

        Assert.Equal(VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.FeaturesOk | VirtioStatus.DriverOk, d.Status);
        Assert.Equal(VirtioTestDriver.Desc, d.Read64(0x20));
        d.Kick();
        var used = d.WaitUsed();
        Assert.Equal((uint)head, used?.Id);
        Assert.Equal(VirtioBlk.Ok, d.Ram.At(status, 1)[0]);
        Assert.Equal((ushort)2, d.UsedIdx); // the target went on from the source's used index

        var back = new byte[first.Length + 512];
        Assert.Equal(VirtioBlk.Ok, d.Request(VirtioBlk.In, 0, back.AsSpan(0, first.Length), writeToDevice: false).Status);
        Assert.Equal(first, back.AsSpan(0, first.Length).ToArray());
        var file = File.ReadAllBytes(path);
        Assert.Equal(second, file.AsSpan(100 * 512, second.Length).ToArray());
    }

    [Fact]
    public void StreamForAnotherDiskSizeOrACorruptOneIsRefused()
    {
        var d = _source.Connect(_source.Create(_source.Backing(1 << 20)));
        d.Start();
        d.Client.SetDeviceState(S.StopCopy);
        var stream = d.Client.ReadMigrationStream();

        var other = _target.Create(_target.Backing(2 << 20));
        using var client = VfioUserClient.Connect(Umdev.VfioUser.VfioUserService.SocketPathFor(_target.SocketDir, other.Uuid));
        client.SetDeviceState(S.Resuming);
        client.WriteMigrationStream(stream);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => client.SetDeviceState(S.Stop)).Errno);
        Assert.Equal(S.Resuming, client.GetDeviceState());

        var same = _target.Create(_target.Backing(1 << 20));
        using var c2 = VfioUserClient.Connect(Umdev.VfioUser.VfioUserService.SocketPathFor(_target.SocketDir, same.Uuid));
        var corrupt = (byte[])stream.Clone();
        corrupt[40] = 48; // queue 0 size: not a power of two
        c2.SetDeviceState(S.Resuming);
        c2.WriteMigrationStream(corrupt);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => c2.SetDeviceState(S.Stop)).Errno);
    }
}
