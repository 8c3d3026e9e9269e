using Umdev.Interop;
using Umdev.Virtio;
using Umdev.VfioUser;
using Umdev.VfioUser.Client;

namespace Umdev.Devices.VirtioBlk.Tests;

/// <summary>
/// Guest RAM passed with DMA_MAP and a descriptor, then truncated by the client: the daemon maps it only
/// when it is sealed against shrinking (or it can seal it), so a doorbell never makes it touch missing pages.
/// </summary>
public sealed class DmaDescriptorTests : IDisposable
{
    private readonly DiskFixture _f = new();

    public void Dispose() => _f.Dispose();

    private (VirtioTestDriver Driver, GuestMemory Ram) Connect(Guid uuid, MemFdSeals seals)
    {
        var ram = new GuestMemory(seals);
        var client = VfioUserClient.Connect(VfioUserService.SocketPathFor(_f.SocketDir, uuid));
        return (new VirtioTestDriver(client, ram), ram);
    }

    private static void AssertRoundTrip(VirtioTestDriver d)
    {
        var data = new byte[4096];
        new Random(3).NextBytes(data);
        Assert.Equal(VirtioBlk.Ok, d.Request(VirtioBlk.Out, 8, data, writeToDevice: true).Status);
        var back = new byte[data.Length];
        Assert.Equal(VirtioBlk.Ok, d.Request(VirtioBlk.In, 8, back, writeToDevice: false).Status);
        Assert.Equal(data, back);
    }

    [Theory]
    [InlineData(MemFd.Resize)]       // sealed by the client, as QEMU's memory-backend-memfd
    [InlineData(MemFdSeals.None)]    // sealable: the daemon seals it at DMA_MAP
    public void Ram_that_is_or_can_be_sealed_is_mapped_and_can_no_longer_shrink(MemFdSeals seals)
    {
        var (d, ram) = Connect(_f.Create(_f.Backing(1 << 20)).Uuid, seals);
        using (ram)
        using (d)
        {
            d.Start();
            Assert.Equal(MemFdSeals.Shrink, MemFd.GetSeals(ram.Fd!) & MemFdSeals.Shrink);
            Assert.Equal(Errno.EPERM, Assert.Throws<ErrnoException>(() => ram.Fd!.SetLength(0)).Errno);
            AssertRoundTrip(d);
            Assert.Equal(0, d.Client.DmaRequestsServed); // mapped, not copied
        }
    }

    [Fact]
    public void Ram_that_cannot_be_sealed_truncated_before_the_doorbell_fails_the_request_cleanly()
    {
        var mdev = _f.Create(_f.Backing(1 << 20));
        var other = _f.Connect(_f.Create(_f.Backing(1 << 20, seed: 2)));
        other.Start();
        var (d, ram) = Connect(mdev.Uuid, MemFdSeals.Seal);
        using (ram)
        using (d)
        {
            d.Start();
            var (head, _) = d.Build(VirtioBlk.In, 0, new byte[512], writeToDevice: false);
            d.Publish(head);
            ram.Fd!.SetLength(0); // the client's own mapping is gone too: nothing here touches the RAM from now on
            d.Kick();
            // The daemon never mapped it: its DMA went to the client as copies, which this client cannot serve.
            Assert.True(d.WaitNeedsReset(), "no DEVICE_NEEDS_RESET");
            Assert.Equal(0, d.Client.DmaRequestsServed);
        }
        // The daemon, the other disk and this disk (for its next client) all go on.
        AssertRoundTrip(other);
        Assert.True(SpinWait.SpinUntil(() => !_f.Service.FindEndpoint(mdev.Uuid)!.HasClient, TimeSpan.FromSeconds(30)));
        var (again, ram2) = Connect(mdev.Uuid, MemFd.Resize);
        using (ram2)
        using (again)
        {
            again.Start();
            AssertRoundTrip(again);
        }
    }
}
