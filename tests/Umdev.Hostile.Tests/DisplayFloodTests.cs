using System.Diagnostics;
using Umdev.Interop;
using Umdev.VfioUser.Display;

namespace Umdev.Hostile.Tests;

/// <summary>Issue 17 item 6 (display): stalled and trickling clients of a display socket delay no one else's screenshot.</summary>
[Collection(HostileCollection.Name)]
public sealed class DisplayFloodTests(HostileDaemon daemon)
{
    private readonly HostileDaemon d = daemon.Revived();

    /// <summary>The longest a screenshot may take while the socket is flooded: the display's per-client deadline.</summary>
    private static readonly TimeSpan ScreenshotBound = TimeSpan.FromSeconds(2);

    [Fact]
    public void TwentyStalledClientsAndATrickleDelayNoScreenshot()
    {
        using var target = d.Attackable("mbochs", "mbochs-small");
        var stalled = Enumerable.Range(0, 20).Select(_ => UnixSocket.Connect(target.Display)).ToList();
        using var stop = new CancellationTokenSource();
        var trickle = Task.Run(() =>
        {
            // One byte of a request every 1.9 s: just inside a per-read timeout, forever.
            using var s = UnixSocket.Connect(target.Display);
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    s.Send([0x55]);
                    stop.Token.WaitHandle.WaitOne(1900);
                }
            }
            catch (ErrnoException) { } // closed by the daemon
        });
        var took = new List<TimeSpan>();
        try
        {
            Thread.Sleep(300);
            for (int i = 0; i < 3; i++)
            {
                var watch = Stopwatch.StartNew();
                try { using var frame = VfioDisplayClient.Capture(target.Display); }
                catch (ErrnoException e) when (e.Errno == Errno.ENODATA) { } // no VMM set a mode: the answer is "nothing shown"
                took.Add(watch.Elapsed);
                Thread.Sleep(900);
            }
        }
        finally
        {
            stop.Cancel();
            trickle.Wait();
            foreach (var s in stalled) s.Dispose();
        }
        Assert.All(took, t => Assert.True(t < ScreenshotBound, $"a screenshot took {t.TotalSeconds:F1} s: {string.Join(", ", took.Select(x => x.TotalSeconds.ToString("F2")))}"));
        d.AssertHealthy();
    }
}
