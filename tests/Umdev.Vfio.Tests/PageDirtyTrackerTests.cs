using Umdev.Vfio.Migration;

namespace Umdev.Vfio.Tests;

/// <summary>The page tracker's bookkeeping on its own: pending, sent, scans, marks, the short last page.</summary>
public class PageDirtyTrackerTests
{
    [Fact]
    public void Pages_are_pending_until_taken_and_again_when_changed_or_marked()
    {
        var memory = new byte[128 * 1024 + 1];                  // 33 pages of 4 KiB, the last one 1 byte
        var tracker = new VfioPageDirtyTracker(new VfioTrackedMemory(memory));
        Assert.Equal(33, tracker.PageCount);
        Assert.Equal(1, tracker.PageLength(32));
        Assert.Equal((33, 0), (tracker.UnsentPages, tracker.DirtyPages));

        var page = new byte[4096];
        for (long p = tracker.NextPending(); p >= 0; p = tracker.NextPending(p)) tracker.Take(p, page);
        Assert.Equal(-1, tracker.NextPending());
        Assert.Equal(0, tracker.Scan());

        memory[^1] = 1;                                      // the short last page
        memory[5 * 4096] = 1;
        tracker.MarkDirty(20 * 4096 + 4095, 2);              // straddles pages 20 and 21
        tracker.MarkDirty((ulong)memory.Length, 100);        // past the end: nothing
        Assert.Equal(4, tracker.Scan());                     // pages 5, 20, 21 and 32
        Assert.Equal((0, 4), (tracker.UnsentPages, tracker.DirtyPages));
        Assert.Equal(5, tracker.NextPending());
        Assert.Equal(20, tracker.NextPending(6));
        Assert.Equal(32, tracker.NextPending(22));
        Assert.Equal(1, tracker.Take(32, page));
        Assert.Equal(1, page[0]);

        tracker.Restart();
        Assert.Equal((33, 0), (tracker.UnsentPages, tracker.DirtyPages));
    }
}
