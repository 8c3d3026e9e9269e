using System.Collections.Concurrent;
using Umdev.Interop;

namespace Umdev.VfioUser.Transport;

/// <summary>
/// A few threads waiting on one epoll for every device's listening sockets, so a device nobody is connected
/// to costs no thread. Each watch is one-shot: its handler runs on one reactor thread at a time and arms it
/// again (<see cref="SocketWatch.Rearm"/>) when it wants the next readiness. Handlers must not block: work
/// that waits goes to a thread of its own.
/// </summary>
internal sealed class SocketReactor
{
    /// <summary>Threads waiting on the epoll: accepts are short, two keep one slow handler from delaying the rest.</summary>
    private const int ThreadCount = 2;

    private static readonly Lazy<SocketReactor> s_shared = new(() => new SocketReactor());

    private readonly Epoll _epoll = Epoll.Create();
    private readonly ConcurrentDictionary<ulong, SocketWatch> _watches = new();
    private long _nextId;

    /// <summary>The process's reactor, started on first use; its threads are background threads.</summary>
    public static SocketReactor Shared => s_shared.Value;

    private SocketReactor()
    {
        for (int i = 0; i < ThreadCount; i++)
            new Thread(Run) { IsBackground = true, Name = $"umdev reactor {i}" }.Start();
    }

    /// <summary>
    /// Listens on <paramref name="socketPath"/> (mode 0600, replacing a stale socket of an earlier run) and runs
    /// <paramref name="onConnection"/> on a reactor thread whenever a connection is pending. The handler is
    /// given its watch to rearm: a client that connects the moment the socket appears may be handled before
    /// this returns.
    /// </summary>
    public (UnixSocket Listener, SocketWatch Watch) Listen(string socketPath, Action<SocketWatch> onConnection)
    {
        if (File.Exists(socketPath) || Directory.Exists(socketPath)) File.Delete(socketPath);
        var listener = UnixSocket.Listen(socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        try
        {
            listener.SetNonBlocking();
            return (listener, Watch(listener, onConnection, once: false));
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs <paramref name="onReadable"/> on a reactor thread the next time <paramref name="socket"/> is readable
    /// (or hung up), after it stopped watching it: a quiet connection waiting for its next message.
    /// </summary>
    public void WatchOnce(FileDescriptorHandle socket, Action onReadable) => Watch(socket, _ => onReadable(), once: true);

    private SocketWatch Watch(FileDescriptorHandle socket, Action<SocketWatch> onReadable, bool once)
    {
        ulong id = (ulong)Interlocked.Increment(ref _nextId);
        var watch = new SocketWatch(this, socket, id, onReadable, once);
        _watches[id] = watch;
        try
        {
            _epoll.Add(socket, Interest, id);
        }
        catch
        {
            _watches.TryRemove(id, out _);
            throw;
        }
        return watch;
    }

    internal const EpollEvents Interest = EpollEvents.In | EpollEvents.OneShot;

    internal void Arm(SocketWatch watch) => _epoll.Modify(watch.Socket, Interest, watch.Id);

    internal void Forget(SocketWatch watch)
    {
        try { _epoll.Remove(watch.Socket); }
        catch (ErrnoException) { }          // never added, or the socket is gone already
        catch (ObjectDisposedException) { } // closing it removed it from the epoll
        _watches.TryRemove(watch.Id, out _);
    }

    private void Run()
    {
        Span<EpollEvent> events = stackalloc EpollEvent[32];
        while (true)
        {
            int n = _epoll.Wait(events, -1);
            // A watch disposed after the event was queued is no longer found: its event is dropped.
            for (int i = 0; i < n; i++)
                if (_watches.TryGetValue(events[i].Data, out var watch)) watch.Dispatch();
        }
    }
}

/// <summary>One socket watched by the <see cref="SocketReactor"/>; dispose to stop (waits for a handler that is running).</summary>
internal sealed class SocketWatch : IDisposable
{
    private readonly SocketReactor _reactor;
    private readonly Action<SocketWatch> _onReadable;
    private readonly bool _once;
    private readonly object _gate = new();
    private bool _disposed;
    private int _runningOn; // managed thread id of the handler running, 0 when none

    internal SocketWatch(SocketReactor reactor, FileDescriptorHandle socket, ulong id, Action<SocketWatch> onReadable, bool once)
    {
        _reactor = reactor;
        _once = once;
        Socket = socket;
        Id = id;
        _onReadable = onReadable;
    }

    internal FileDescriptorHandle Socket { get; }
    internal ulong Id { get; }

    internal void Dispatch()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _runningOn = Environment.CurrentManagedThreadId;
            _disposed = _once;
        }
        // Gone from the epoll before the handler runs: the socket's next owner may watch it again at once.
        if (_once) _reactor.Forget(this);
        try
        {
            _onReadable(this);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Handlers catch and log what they expect; anything else must not stop the reactor serving the
            // other sockets. This one stays disarmed.
        }
        finally
        {
            lock (_gate)
            {
                _runningOn = 0;
                Monitor.PulseAll(_gate);
            }
        }
    }

    /// <summary>Asks for the next readiness (the handler, or whoever it handed work to, calls this when done).</summary>
    public void Rearm()
    {
        lock (_gate)
        {
            if (_disposed) return;
            try { _reactor.Arm(this); }
            catch (ObjectDisposedException) { }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
        }
        _reactor.Forget(this);
        lock (_gate)
        {
            // The handler may be the one disposing; otherwise wait for it, so nothing is accepted after Dispose.
            while (_runningOn != 0 && _runningOn != Environment.CurrentManagedThreadId) Monitor.Wait(_gate);
        }
    }
}
