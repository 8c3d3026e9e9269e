using Microsoft.Extensions.Logging;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.VfioUser.Transport;

namespace Umdev.VfioUser.Server;

/// <summary>
/// A device's listening socket: accepts one client at a time, serving it on its own thread. A connection
/// while one is served waits up to <see cref="ReconnectGrace"/> for that session to end (a reconnect right
/// after a disconnect); if it is still served, the newcomer is closed and the first is left undisturbed.
/// Listening costs no thread: the process's few reactor threads accept for every device; a client silent for
/// <see cref="VfioUserServerOptions.IdleThreadTimeout"/> gives its thread back until its next message.
/// </summary>
public sealed partial class VfioUserEndpoint : IDisposable
{
    private readonly VfioDevice _device;
    private readonly VfioUserServerOptions _options;
    private readonly ILogger _logger;
    private readonly UnixSocket _listener;
    private readonly SocketWatch _watch;
    private readonly Lock _lock = new();
    private VfioUserSession? _session;
    private ManualResetEventSlim _sessionDone = NoSession;

    // Set for good and only ever waited on: one for every endpoint that has served nobody yet (memory per idle device).
    private static readonly ManualResetEventSlim NoSession = new(true);
    private bool _disposed;

    /// <summary>Listens on <paramref name="socketPath"/> (mode 0600, replacing a stale socket) and serves <paramref name="device"/> to one client at a time.</summary>
    public VfioUserEndpoint(VfioDevice device, string socketPath, VfioUserServerOptions options, ILogger logger)
    {
        _device = device;
        _options = options;
        _logger = logger;
        SocketPath = socketPath;
        (_listener, _watch) = SocketReactor.Shared.Listen(socketPath, OnConnection);
    }

    /// <summary>Where it listens.</summary>
    public string SocketPath { get; }

    /// <summary>True while a client is connected.</summary>
    public bool HasClient
    {
        get { lock (_lock) return _session is not null; }
    }

    private static readonly TimeSpan ReconnectGrace = TimeSpan.FromSeconds(1);

    /// <summary>On a reactor thread: takes the pending connections.</summary>
    private void OnConnection(SocketWatch watch)
    {
        while (_listener.TryAccept() is { } socket)
        {
            if (TryServe(socket)) continue;
            // A client is being served: the newcomer waits out the grace on a thread of its own (the reactor
            // must not block), and the listener waits with it, so newcomers are judged one at a time.
            new Thread(() => Judge(socket, watch)) { IsBackground = true, Name = $"vfio-user newcomer {_device.Name}" }.Start();
            return;
        }
        watch.Rearm();
    }

    /// <summary>
    /// A client that just disconnected may still be being released: let its session end before judging the
    /// newcomer, so a reconnect is not mistaken for a second client. One that stays connected past the grace
    /// is a second client and is refused.
    /// </summary>
    private void Judge(UnixSocket socket, SocketWatch watch)
    {
        ManualResetEventSlim ending;
        lock (_lock) ending = _sessionDone;
        ending.Wait(ReconnectGrace);
        if (!TryServe(socket))
        {
            LogRefused(_device.Name);
            socket.Dispose();
        }
        watch.Rearm();
    }

    /// <summary>Serves <paramref name="socket"/> on a new thread unless a client is served already (false); closes it if the endpoint is disposed.</summary>
    private bool TryServe(UnixSocket socket)
    {
        VfioUserSession session;
        ManualResetEventSlim done;
        lock (_lock)
        {
            if (_disposed)
            {
                socket.Dispose();
                return true;
            }
            if (_session is not null) return false;
            try
            {
                socket.SetReceiveTimeout(_options.IdleThreadTimeout);
            }
            catch (ErrnoException)
            {
                socket.Dispose();
                return true;
            }
            session = new VfioUserSession(_device, new SocketTransport(socket), _options, _logger);
            _session = session;
            done = _sessionDone = new ManualResetEventSlim(false);
        }
        StartThread(session, socket, done);
        return true;
    }

    private void StartThread(VfioUserSession session, UnixSocket socket, ManualResetEventSlim done) =>
        new Thread(() => Serve(session, socket, done)) { IsBackground = true, Name = $"vfio-user {_device.Name}" }.Start();

    private void Serve(VfioUserSession session, UnixSocket socket, ManualResetEventSlim done)
    {
        while (true)
        {
            bool ended = true;
            try
            {
                ended = session.RunUntilQuiet();
            }
            finally
            {
                if (ended)
                {
                    lock (_lock) _session = null;
                    done.Set();
                }
            }
            if (ended) return;
            // The client is quiet: its connection waits on the reactor and its next message, its leaving or a
            // Close (both make it readable) gets it a thread again.
            try
            {
                SocketReactor.Shared.WatchOnce(socket, () => StartThread(session, socket, done));
                return;
            }
            catch (ErrnoException)
            {
                socket.WaitReadable(Timeout.Infinite); // the epoll refused it: this thread waits instead
            }
        }
    }

    /// <summary>
    /// Asks the connected client to let go of the device: its REQ eventfd is signalled if it armed one and
    /// the client gets <paramref name="timeout"/> to leave; with <paramref name="force"/> the connection is
    /// closed instead. True when no client remains.
    /// </summary>
    public bool ReleaseClient(TimeSpan timeout, bool force)
    {
        VfioUserSession? session;
        ManualResetEventSlim done;
        lock (_lock)
        {
            session = _session;
            done = _sessionDone;
        }
        if (session is null) return true;
        if (force) session.Close();
        else session.SignalRequest();
        return done.Wait(force ? Timeout.InfiniteTimeSpan : timeout);
    }

    /// <summary>Stops listening, closes the client's connection and deletes the socket.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
        }
        _watch.Dispose(); // waits for an accept in progress: none starts a session after this
        _listener.Dispose();
        ReleaseClient(TimeSpan.Zero, force: true);
        try { File.Delete(SocketPath); }
        catch (IOException) { }
    }

    [LoggerMessage(EventId = VfioUserLogEvents.SecondClientRefused, Level = LogLevel.Warning, Message = "vfio-user {Device}: second client refused (one client per device)")]
    private partial void LogRefused(string device);
}
