namespace Umdev.Virtio;

/// <summary>
/// The thread that serves one queue, so requests never run on (or block) the thread that delivered the
/// doorbell: <see cref="Kick"/> wakes it, <see cref="Pause"/> waits until the request in progress is
/// done and holds it (migration STOP drains this way), <see cref="Resume"/> lets it go on.
/// </summary>
internal sealed class VirtqueueWorker : IDisposable
{
    private readonly object _lock = new();
    private readonly Action _service;
    private readonly Thread _thread;
    private bool _kicked, _paused, _busy, _stopping;

    public VirtqueueWorker(string name, Action service, bool paused)
    {
        _service = service;
        _paused = paused;
        _kicked = true; // look at the ring once at start: the driver may have queued before DRIVER_OK
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    public void Kick()
    {
        lock (_lock)
        {
            _kicked = true;
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>Returns once no request is in progress; none starts until <see cref="Resume"/>.</summary>
    public void Pause()
    {
        lock (_lock)
        {
            _paused = true;
            while (_busy) Monitor.Wait(_lock);
        }
    }

    /// <summary>Lets the worker run again and look at its ring (doorbells may have been missed).</summary>
    public void Resume()
    {
        lock (_lock)
        {
            _paused = false;
            _kicked = true;
            Monitor.PulseAll(_lock);
        }
    }

    private void Run()
    {
        while (true)
        {
            lock (_lock)
            {
                while (!_stopping && (_paused || !_kicked)) Monitor.Wait(_lock);
                if (_stopping) return;
                _kicked = false;
                _busy = true;
            }
            try
            {
                _service();
            }
            finally
            {
                lock (_lock)
                {
                    _busy = false;
                    Monitor.PulseAll(_lock);
                }
            }
        }
    }

    /// <summary>Stops the thread after the request in progress (never called from the worker itself).</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _stopping = true;
            Monitor.PulseAll(_lock);
        }
        _thread.Join();
    }
}
