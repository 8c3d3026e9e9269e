using Umdev.Interop;
using Umdev.Vfio.Migration;

namespace Umdev.Vfio.Tests;

/// <summary>The paged-memory stream a mapped-memory device migrates with: passes, the end record, refusals.</summary>
public class PagedMemoryStreamTests
{
    private const int PageSize = 4096;
    private static readonly byte[] Header = [0xAA, 0xBB, 0xCC];

    private static byte[] Drain(VfioPagedMemorySource source)
    {
        using var all = new MemoryStream();
        var chunk = new byte[1000]; // records cross chunk boundaries
        int n;
        while ((n = source.Produce(chunk)) > 0) all.Write(chunk, 0, n);
        return all.ToArray();
    }

    private static VfioPagedMemorySink Sink(VfioMemoryRegion memory, Action<byte[]> loaded) =>
        new(memory, Header.Length, h => { if (!h.SequenceEqual(Header)) ThrowHelper.Throw(Errno.EINVAL, "header"); },
            5, t => loaded(t.ToArray()), PageSize);

    [Fact]
    public void PassesSendChangedPagesAndTheEndRecordCarriesTheTrailer()
    {
        var memory = new VfioMemoryRegion(0, 10_000); // the last page is short
        var target = new VfioMemoryRegion(0, 10_000);
        using (var a = memory.Access(0, 10_000)) a.Span.Fill(1);
        using var source = new VfioPagedMemorySource(memory, Header, 5, t => t.Fill(7), stopCopy: false, PageSize);
        var first = Drain(source);
        Assert.Equal(Header.Length + 3 * 8 + 10_000, first.Length);
        Assert.Equal(new VfioPrecopyInfo(0, 0), source.GetPrecopyInfo());
        using (var a = memory.Access(9_999, 1)) a.Span[0] = 2; // a write through the mapping, seen by no handler
        Assert.Equal(new VfioPrecopyInfo(0, 8 + PageSize), source.GetPrecopyInfo());
        var second = Drain(source);
        Assert.Equal(8 + 10_000 - 2 * PageSize, second.Length);
        source.EnterStopCopy();
        var last = Drain(source);
        Assert.Equal(8 + 5, last.Length);

        byte[]? trailer = null;
        var sink = Sink(target, t => trailer = t);
        byte[] stream = [.. first, .. second, .. last];
        for (int at = 0; at < stream.Length; at += 777) sink.Consume(stream.AsSpan(at, Math.Min(777, stream.Length - at)));
        sink.Complete();
        Assert.Equal(new byte[] { 7, 7, 7, 7, 7 }, trailer);
        using (var a = memory.Access(0, 10_000))
        using (var b = target.Access(0, 10_000)) Assert.True(a.Span.SequenceEqual(b.Span));
    }

    [Fact]
    public void ABadHeaderAPagePastTheMemoryOrBytesAfterTheEndAreRefused()
    {
        var target = new VfioMemoryRegion(0, 8192);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => Sink(target, _ => { }).Consume([1, 2, 3])).Errno);

        var pastEnd = Sink(target, _ => { });
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => pastEnd.Consume([.. Header, 2, 0, 0, 0, 0, 0, 0, 0])).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => pastEnd.Consume([0])).Errno); // refused for good

        var truncated = Sink(target, _ => { });
        truncated.Consume([.. Header, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2]);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(truncated.Complete).Errno);
        truncated.Consume([3, 4, 5]);
        truncated.Complete();
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => truncated.Consume([0])).Errno);
    }
}
