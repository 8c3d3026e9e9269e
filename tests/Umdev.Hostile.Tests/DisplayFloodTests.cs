using System.Diagnostics;
using Umdev.Interop;
using Umdev.VfioUser.Client;
using Umdev.VfioUser.Display;

namespace Umdev.Hostile.Tests;

/// <summary>
/// Issue 17 item 6 (display): stalled and trickling clients of a display socket, and clients that ask and
/// never read the pixels, delay no one else's screenshot and cost the daemon nothing that stays.
/// </summary>
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

    [Fact]
    public void ClientsThatNeverReadThePixelsDelayNoScreenshotAndTheirCostComesBack()
    {
        var took = new List<TimeSpan>();
        { // the VMM and every connection closed before the check
            using var target = d.Attackable("mbochs", "mbochs-small");
            using var vmm = VfioUserClient.Connect(target.Socket);
            foreach (var (index, value) in new (int, ushort)[] { (3, 32), (1, 800), (2, 600), (6, 800), (4, 0x41) })
                HostileDaemon.Dispi(vmm, index, value); // 800x600: 1.9 MB a frame, more than a socket buffer holds
            int fdsBefore = d.DaemonFds().Count;
            var request = new byte[DisplayRequest.Length];
            DisplayRequest.Write(request);
            // Far more than the daemon serves at once, each asking and then never reading: with memfds, each
            // would have held a plane-sized copy in the daemon; now only what a socket buffer holds, for a while.
            var stalled = new List<UnixSocket>();
            try
            {
                for (int i = 0; i < 40; i++)
                {
                    var s = UnixSocket.Connect(target.Display);
                    stalled.Add(s);
                    s.Send(request);
                }
                Thread.Sleep(300);
                for (int i = 0; i < 3; i++)
                {
                    var watch = Stopwatch.StartNew();
                    using (var frame = VfioDisplayClient.Capture(target.Display))
                        Assert.Equal((800u, 600u), (frame.Plane.Width, frame.Plane.Height));
                    took.Add(watch.Elapsed);
                }
                Assert.True(d.DaemonRss() <= d.BaselineRss + HostileDaemon.RssSlackBytes, $"daemon RSS {d.DaemonRss() >> 20} MiB while stalled");
                // Still never reading, still connected: the daemon lets go of them by the send deadline on its own.
                List<string> open = [];
                bool released = SpinWait.SpinUntil(() => (open = d.DaemonFds()).Count <= fdsBefore,
                    TimeSpan.FromMilliseconds(VfioDisplayEndpoint.RequestTimeoutMs + VfioDisplayEndpoint.SendTimeoutMs + 3000));
                Assert.True(released, $"daemon descriptors: {open.Count}, {fdsBefore} before the stalled clients");
            }
            finally
            {
                foreach (var s in stalled) s.Dispose();
            }
        }
        Assert.All(took, t => Assert.True(t < ScreenshotBound, $"a screenshot took {t.TotalSeconds:F1} s: {string.Join(", ", took.Select(x => x.TotalSeconds.ToString("F2")))}"));
        d.AssertHealthy();
    }
}
