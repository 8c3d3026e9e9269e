using Umdev.Interop;
using Umdev.Vfio;
using Umdev.VfioUser.Client;
using Umdev.VfioUser.Protocol;

namespace Umdev.VfioUser.Tests;

/// <summary>A memory region mapped by a client shares its bytes with the driver, over the socket and in process.</summary>
public class MappedRegionTests
{
    [Fact]
    public void ClientMapsARegionThroughTheSocketAndSharesItsBytesWithTheDriver()
    {
        using var f = new ServerFixture();
        using var c = VfioUserClient.Connect(f.SocketPath());
        var info = c.GetRegionInfo(4, 4096);
        Assert.Equal(0ul, info.Offset);                 // the offset into the region's descriptor
        info.MmapHandle!.Dispose();
        using var mapped = c.MapRegion(4, 4096, 4096);  // the sparse area
        var bar4 = f.Ops().Bar4;

        using (var a = bar4.Access(4096 + 10, 4)) new byte[] { 1, 2, 3, 4 }.CopyTo(a.Span); // the driver writes, the client sees
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, mapped.Span(10, 4).ToArray());
        new byte[] { 7, 8, 9 }.CopyTo(mapped.Span(100, 3)); // the client writes, the driver sees
        using (var a = bar4.Access(4096 + 100, 3)) Assert.Equal(new byte[] { 7, 8, 9 }, a.Span.ToArray());
        var read = new byte[3];                         // and REGION_READ serves the same memory
        Assert.Equal(3, c.ReadRegion(4, 4096 + 100, read));
        Assert.Equal(new byte[] { 7, 8, 9 }, read);
    }

    [Fact]
    public void OnlySparseAreasMayBeMappedAndNonMemoryRegionsNot()
    {
        using var f = new ServerFixture();
        using var c = VfioUserClient.Connect(f.SocketPath());
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => c.MapRegion(4, 0, 4096)).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => c.MapRegion(4, 4096, 8192)).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => c.MapRegion(0, 0, 8)).Errno);
    }

    [Fact]
    public void InProcessClientMapsTheSameWay()
    {
        using var f = new ServerFixture();
        using var file = f.Device.Vfio().Open();
        using var mapped = file.MapRegion(4, 4096, 4096);
        new byte[] { 0xAB, 0xCD }.CopyTo(mapped.Span(0, 2));
        using (var a = f.Ops().Bar4.Access(4096, 2)) Assert.Equal(new byte[] { 0xAB, 0xCD }, a.Span.ToArray());
        var read = new byte[2];
        file.ReadRegion(4, 4096, read);
        Assert.Equal(new byte[] { 0xAB, 0xCD }, read);
    }

    [Fact]
    public void AccessesPastARegionAreRefusedBeforeTheDriverRuns()
    {
        using var f = new ServerFixture();
        using var c = VfioUserClient.Connect(f.SocketPath());
        Assert.Equal(8, c.WriteRegion(0, 0, new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }));
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => c.ReadRegion(0, 0, new byte[9])).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => c.WriteRegion(0, 4, new byte[5])).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => c.ReadRegion(1, 0, new byte[1])).Errno); // undeclared
        var back = new byte[8];
        c.ReadRegion(0, 0, back);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, back); // the refused write changed nothing
    }

    [Fact]
    public void A_tracked_region_finds_the_pages_a_client_changed_through_its_mapping_or_by_region_writes()
    {
        using var f = new ServerFixture();
        using var c = VfioUserClient.Connect(f.SocketPath());
        using var mapped = c.MapRegion(4, 4096, 4096);
        var tracker = f.Ops().Bar4.StartTracking();
        var page = new byte[tracker.PageSize];
        while (tracker.NextPending() is var p and >= 0) tracker.Take(p, page); // the first pass sends everything
        Assert.Equal(0, tracker.Scan());
        mapped.Span(5, 1)[0] ^= 0xFF;                   // page 1, through the mapping: seen by a scan
        Assert.Equal(1, tracker.Scan());
        Assert.Equal(1, tracker.NextPending());
        tracker.Take(1, page);
        c.WriteRegion(4, 10, new byte[] { 1 });         // page 0, as a region write: marked at once
        Assert.Equal(0, tracker.NextPending());
    }

    [Fact]
    public void Region_queries_of_a_memory_region_leave_no_descriptor_open_in_the_server()
    {
        using var f = new ServerFixture();
        using var c = f.Negotiated();
        int before = Directory.GetFiles("/proc/self/fd").Length;
        for (int i = 0; i < 200; i++)
            using (var r = c.Call(VfioUserCommand.DeviceGetRegionIoFds, RawClient.U32s(16, 0, 4, 0))) Assert.False(r.Header.IsError);
        Assert.InRange(Directory.GetFiles("/proc/self/fd").Length - before, int.MinValue, 20);
    }
}
