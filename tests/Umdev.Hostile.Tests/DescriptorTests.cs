using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.VfioUser.Client;
using Umdev.VfioUser.Display;

namespace Umdev.Hostile.Tests;

/// <summary>
/// Issue 17 items 1 and 2: what a client does with a descriptor it was handed, or handed over, after the fact:
/// shrink it, grow it, re-open it for writing. The daemon never faults and never lets read-only memory be written.
/// </summary>
[Collection(HostileCollection.Name)]
public sealed class DescriptorTests(HostileDaemon daemon)
{
    private readonly HostileDaemon d = daemon.Revived();

    [Fact]
    public void TheRegionMemfdCannotBeShrunkOrGrownAndReadsKeepWorking()
    {
        { // every descriptor and connection closed before the check
            using var target = d.Attackable("mbochs", "mbochs-small");
            using var vmm = VfioUserClient.Connect(target.Socket);
            var info = vmm.GetRegionInfo(HostileDaemon.Bar0, 4096);
            using var fd = info.MmapHandle ?? throw new InvalidOperationException("BAR0 came without a descriptor");
            long size = fd.GetRegularFileSize();
            var shrink = Posix.Truncate(fd, 0);
            var grow = Posix.Truncate(fd, size * 2);
            // Unfixed, the shrink succeeds and the next REGION_READ faults the daemon: put the size back first, so
            // this case fails alone.
            if (shrink == Errno.None || grow == Errno.None) Posix.Truncate(fd, size);
            Assert.Equal(Errno.EPERM, shrink);
            Assert.Equal(Errno.EPERM, grow);
            var b = new byte[16];
            Assert.Equal(16, vmm.ReadRegion(HostileDaemon.Bar0, (ulong)size - 16, b));
        }
        d.AssertHealthy();
    }

    /// <summary>
    /// DMA_MAP of a memfd that cannot be sealed (no MFD_ALLOW_SEALING), shrunk by the client, then the doorbell:
    /// the daemon must reach that memory by copies, so the shrink costs the client its own request, nothing more.
    /// </summary>
    [Fact]
    public void AnUnsealedDmaMemfdShrunkBeforeTheDoorbellNeverFaultsTheDaemon()
    {
        using var target = d.Attackable("virtio", "virtio-blk");
        string image = Path.Combine(d.DiskDir, $"dma-{target.Uuid:N}.img");
        File.WriteAllBytes(image, new byte[1 << 20]);
        try
        {
            AttributeFile.Write(Path.Combine(target.Path, "backing"), image + "\n");
            using var ram = new GuestMemory(Posix.UnsealableMemfd("guest-ram", (long)GuestMemory.Size));
            using var driver = new VirtioTestDriver(VfioUserClient.Connect(target.Socket), ram);
            driver.Start();
            var (head, _) = driver.Build(0, 0, new byte[4096], writeToDevice: false);
            driver.Publish(head);
            Assert.Equal(Errno.None, Posix.Truncate(ram.Fd!, 0)); // the test's own memfd: nothing stops it
            // The rings are now past the end of the memfd; the test must not touch them either.
            driver.Kick();
            Thread.Sleep(500);
            _ = driver.Status; // the device still answers (and its copies get their errors meanwhile)
        }
        finally
        {
            File.Delete(image);
        }
        d.AssertHealthy();
    }

    /// <summary>A memfd that can be sealed is sealed against shrinking at DMA_MAP: the client's ftruncate fails.</summary>
    [Fact]
    public void ASealableDmaMemfdIsSealedAgainstShrinkingAtDmaMap()
    {
        using var target = d.Attackable("virtio", "virtio-blk");
        using var memfd = Posix.SealableMemfd("guest-ram", 1 << 20);
        using (var vmm = VfioUserClient.Connect(target.Socket))
        {
            vmm.MapDma(0x1_0000_0000, 1 << 20, VfioDmaProtection.Read | VfioDmaProtection.Write, memfd);
            var shrink = Posix.Truncate(memfd, 0);
            if (shrink == Errno.None) Posix.Truncate(memfd, 1 << 20); // unfixed: keep the daemon's mapping whole
            Assert.Equal(Errno.EPERM, shrink);
        }
        d.AssertHealthy();
    }

    /// <summary>
    /// The display gives pixels, never memory: its reply carries no descriptor (the one a client offers along
    /// its request is closed unused), and the guest's video memory is unchanged whatever the client does
    /// with the pixels it got.
    /// </summary>
    [Fact]
    public void TheDisplayReplyCarriesNoDescriptorAndReachesNoVideoMemory()
    {
        { // every descriptor and connection closed before the check
            using var target = d.Attackable("mbochs", "mbochs-small");
            using var vmm = VfioUserClient.Connect(target.Socket);
            HostileDaemon.Dispi(vmm, 3, 32);
            HostileDaemon.Dispi(vmm, 1, 64);
            HostileDaemon.Dispi(vmm, 2, 64);
            HostileDaemon.Dispi(vmm, 6, 64);
            HostileDaemon.Dispi(vmm, 4, 0x41);
            using var vram = vmm.MapRegion(HostileDaemon.Bar0, 0, 4 << 20);
            vram.Span(0, 64 * 64 * 4).Fill(0x11);

            using var socket = UnixSocket.Connect(target.Display);
            var request = new byte[DisplayRequest.Length];
            DisplayRequest.Write(request);
            using (var offered = MemFd.Create("offered", 4096)) socket.Send(request, [offered]);
            var fds = new List<FileDescriptorHandle>();
            var reply = new byte[DisplayReply.Length + 64 * 64 * 4 + 1];
            int n = 0, r;
            while (n < reply.Length && (r = socket.Receive(reply.AsSpan(n), fds, out _)) > 0) n += r;
            foreach (var fd in fds) fd.Dispose();
            Assert.Empty(fds);
            Assert.Equal(DisplayReply.Length + 64 * 64 * 4, n);
            Assert.All(reply.AsSpan(DisplayReply.Length, 64 * 64 * 4).ToArray(), b => Assert.Equal(0x11, b));
            reply.AsSpan(DisplayReply.Length).Fill(0xEE);

            Assert.Equal(0x11111111u, BinaryPrimitives.ReadUInt32LittleEndian(vram.Span(0, 4)));
            var b = new byte[4];
            vmm.ReadRegion(HostileDaemon.Bar0, 0, b);
            Assert.Equal(0x11111111u, BinaryPrimitives.ReadUInt32LittleEndian(b));
        }
        d.AssertHealthy();
    }
}
