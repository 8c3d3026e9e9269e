using Microsoft.Extensions.Logging;
using Umdev.Interop;

namespace Umdev.Sysfs.Fuse;

/// <summary>
/// The request loop over /dev/fuse, multi-threaded like libfuse's: a thread that takes a request starts
/// another when none is left idle (a store may block, e.g. removing a device a VMM holds open), and
/// surplus idle threads exit. Threads stop when the stop event fires or the filesystem goes away.
/// </summary>
internal sealed class FuseSession : IDisposable
{
    private const int MaxThreads = 64;
    private const int MaxIdle = 4;

    private readonly FuseDevice _device;
    private readonly SysfsFileSystem _fs;
    private readonly ILogger _logger;
    private readonly EventFd _stop = EventFd.Create();
    private readonly List<Thread> _threads = [];
    private readonly Lock _lock = new();
    private readonly Lock _readLock = new();
    private int _idle;
    private int _running;
    private bool _stopping;

    public FuseSession(FuseDevice device, SysfsFileSystem fs, ILogger logger)
    {
        _device = device;
        _fs = fs;
        _logger = logger;
    }

    public void Start()
    {
        lock (_lock) StartThread();
    }

    // Called with _lock held.
    private void StartThread()
    {
        if (_stopping || _running >= MaxThreads) return;
        _running++;
        _idle++;
        var thread = new Thread(Loop) { IsBackground = true, Name = "umdev-fuse" };
        _threads.Add(thread);
        thread.Start();
    }

    private void Loop()
    {
        var buffer = new byte[FuseConst.RequestBufferSize];
        var reply = new FuseReply(FuseConst.RequestBufferSize);
        try
        {
            while (true)
            {
                int n;
                // One thread at a time waits on /dev/fuse (leader/follower), so a request wakes one thread, not all idle ones.
                lock (_readLock)
                {
                    if (!_device.WaitRequest(_stop)) break;
                    n = _device.ReadRequest(buffer);
                }
                if (n < 0) break; // unmounted
                if (n == 0) continue;
                lock (_lock)
                {
                    _idle--;
                    if (_idle == 0) StartThread();
                }
                Serve(buffer.AsSpan(0, n), reply);
                lock (_lock)
                {
                    if (_idle >= MaxIdle) { _running--; _threads.Remove(Thread.CurrentThread); return; }
                    _idle++;
                }
            }
        }
        catch (Exception e)
        {
            _logger.LogError(SysfsLogEvents.RequestLoopFailed, e, "FUSE request loop failed");
        }
        lock (_lock)
        {
            _running--;
            _idle--;
        }
    }

    private void Serve(ReadOnlySpan<byte> read, FuseReply reply)
    {
        if (!FuseRequest.TryParse(read, out var request))
        {
            _logger.LogError(SysfsLogEvents.MalformedRequest, "malformed FUSE request of {Length} bytes", read.Length);
            return;
        }
        if (!_fs.Handle(request, reply)) return;
        try
        {
            _device.WriteReply(reply.Finish());
        }
        catch (ErrnoException e)
        {
            _logger.LogError(SysfsLogEvents.ReplyRefused, "FUSE reply to {Opcode} refused: {Error}", request.Opcode, e.Message);
        }
    }

    /// <summary>Stops the threads (after the unmount, so the kernel sends nothing more) and waits for them.</summary>
    public void Dispose()
    {
        Thread[] threads;
        lock (_lock)
        {
            _stopping = true;
            threads = [.. _threads];
        }
        _stop.Signal();
        foreach (var t in threads)
        {
            if (t != Thread.CurrentThread) t.Join(TimeSpan.FromSeconds(10));
        }
        _stop.Dispose();
    }
}
