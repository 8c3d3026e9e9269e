using S = Umdev.Vfio.Migration.VfioMigrationState;

namespace Umdev.Devices.VirtioBlk.Tests;

/// <summary>
/// VFIO_DEVICE_RESET from a migration state where the disk is stopped (a VMM giving up on a migration, or
/// rebooting the guest of a failed target): the device is RUNNING again and serves requests, over the socket.
/// </summary>
public sealed class ResetTests : IDisposable
{
    private readonly DiskFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Theory]
    [InlineData(S.Stop)]
    [InlineData(S.StopCopy)]
    [InlineData(S.Resuming)]
    public void A_reset_from_a_stopped_state_leaves_a_disk_that_completes_requests(S stopped)
    {
        string path = _fixture.Backing(1 << 20, seed: 5);
        var d = _fixture.Connect(_fixture.Create(path));
        d.Start();
        var before = new byte[512];
        Assert.Equal(VirtioBlk.Ok, d.Request(VirtioBlk.In, 0, before, writeToDevice: false).Status);

        d.Client.SetDeviceState(S.Stop);
        if (stopped != S.Stop) d.Client.SetDeviceState(stopped);
        d.Client.Reset();
        Assert.Equal(S.Running, d.Client.GetDeviceState());

        d.Start(map: false); // a reset virtio device starts over; the client's DMA mappings stay
        var data = new byte[4096];
        new Random(7).NextBytes(data);
        Assert.Equal(VirtioBlk.Ok, d.Request(VirtioBlk.Out, 8, data, writeToDevice: true).Status);
        var back = new byte[data.Length];
        Assert.Equal(VirtioBlk.Ok, d.Request(VirtioBlk.In, 8, back, writeToDevice: false).Status);
        Assert.Equal(data, back);
        Assert.Equal(data, File.ReadAllBytes(path).AsSpan(8 * 512, data.Length).ToArray());
    }

    [Fact]
    public void A_reset_while_running_keeps_the_disk_running_and_serving()
    {
        string path = _fixture.Backing(1 << 20, seed: 6);
        var d = _fixture.Connect(_fixture.Create(path));
        d.Start();
        d.Client.Reset();
        Assert.Equal(S.Running, d.Client.GetDeviceState());
        d.Start(map: false);
        var data = new byte[512];
        Assert.Equal(VirtioBlk.Ok, d.Request(VirtioBlk.In, 0, data, writeToDevice: false).Status);
        Assert.Equal(File.ReadAllBytes(path).AsSpan(0, 512).ToArray(), data);
    }
}
