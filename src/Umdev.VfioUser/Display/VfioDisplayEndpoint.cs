using Microsoft.Extensions.Logging;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.VfioUser.Transport;

namespace Umdev.VfioUser.Display;

/// <summary>
/// A device's display socket: answers each connection's one request with the primary plane and then its
/// pixels, stride × height bytes sent straight from the video memory, then closes it. It gives pixels, never
/// memory: no descriptor, so a client that keeps its connections holds no memory charged to the daemon
/// beyond the socket buffers of <see cref="MaxConnections"/> connections. It is separate from the vfio-user socket,
/// which serves one VMM at a time, so the screen can be read while a VMM holds the device, without acting
/// as one. Up to <see cref="MaxConnections"/> connections are served at once, each on its own thread with
/// <see cref="RequestTimeoutMs"/> from its accept to ask and <see cref="SendTimeoutMs"/> to take the pixels;
/// a newcomer beyond them closes the connection that has waited longest, so clients that stall, asking or
/// reading, cannot keep a screenshot out. Listening costs no thread: the process's reactor threads accept.
/// </summary>
public sealed partial class VfioDisplayEndpoint : IDisposable
{
    /// <summary>How long a connection may take to send its whole request before it is closed.</summary>
    public const int RequestTimeoutMs = 2000;

    /// <summary>How long a connection may take to read the reply and pixels before it is closed.</summary>
    public const int SendTimeoutMs = 10_000;

    /// <summary>Connections served at once.</summary>
    public const int MaxConnections = 8;

    private readonly VfioDevice _device;
    private readonly ILogger _logger;
    private readonly UnixSocket _listener;
    private readonly SocketWatch _watch;
    private readonly Lock _lock = new();
    private readonly LinkedList<UnixSocket> _connections = []; // oldest first
    private readonly CountdownEvent _serving = new(1);          // 1 + connections being served

    /// <summary>Listens on <paramref name="socketPath"/> (mode 0600, replacing a stale socket) for <paramref name="device"/>, which has a display.</summary>
    public VfioDisplayEndpoint(VfioDevice device, string socketPath, ILogger logger)
    {
        _device = device;
        _logger = logger;
        SocketPath = socketPath;
        (_listener, _watch) = SocketReactor.Shared.Listen(socketPath, OnConnection);
    }

    /// <summary>Where it listens.</summary>
    public string SocketPath { get; }

    /// <summary>On a reactor thread: takes the pending connections, each served on a thread of its own.</summary>
    private void OnConnection(SocketWatch watch)
    {
        while (_listener.TryAccept() is { } socket)
        {
            UnixSocket? evicted = null;
            LinkedListNode<UnixSocket> node;
            lock (_lock)
            {
                if (_connections.Count >= MaxConnections)
                {
                    evicted = _connections.First!.Value;
                    _connections.RemoveFirst();
                }
                node = _connections.AddLast(socket);
            }
            // Its thread wakes at the end of stream and lets it go.
            evicted?.Shutdown();
            _serving.AddCount();
            new Thread(() => Serve(node)) { IsBackground = true, Name = $"display {_device.Name} client" }.Start();
        }
        watch.Rearm();
    }

    private void Serve(LinkedListNode<UnixSocket> node)
    {
        var socket = node.Value;
        try
        {
            Serve(socket);
        }
        catch (Exception e)
        {
            // The client went away or sent garbage, or was closed to make room (or a driver failed): others are served.
            bool evicted;
            lock (_lock) evicted = node.List is null;
            if (evicted) LogEvicted(_device.Name);
            else LogRefused(_device.Name, e.Message);
        }
        finally
        {
            lock (_lock)
            {
                if (node.List is not null) _connections.Remove(node);
            }
            socket.Dispose();
            _serving.Signal();
        }
    }

    private void Serve(UnixSocket socket)
    {
        Span<byte> request = stackalloc byte[DisplayRequest.Length + 1];
        int filled = 0;
        // One deadline for the whole request: a byte now and then does not keep the connection.
        long deadline = Environment.TickCount64 + RequestTimeoutMs;
        while (filled < request.Length)
        {
            long left = deadline - Environment.TickCount64;
            if (left <= 0 || !socket.WaitReadable((int)left)) break;
            int n = socket.Receive(request[filled..], null, out _);
            if (n == 0) break;
            filled += n;
            if (filled == DisplayRequest.Length) break;
        }
        Span<byte> reply = stackalloc byte[DisplayReply.Length];
        try
        {
            DisplayRequest.Validate(request[..filled]);
        }
        catch (ErrnoException e)
        {
            new DisplayReply(e.Errno, VfioGfxPlane.None, 0).Write(reply);
            socket.Send(reply);
            throw;
        }
        Answer(socket, reply);
    }

    private void Answer(UnixSocket socket, Span<byte> reply)
    {
        VfioGfxPlane plane;
        try
        {
            plane = _device.QueryGfxPlane();
        }
        catch (ErrnoException e)
        {
            new DisplayReply(e.Errno, VfioGfxPlane.None, 0).Write(reply);
            socket.Send(reply);
            return;
        }
        long deadline = Environment.TickCount64 + SendTimeoutMs;
        // The pixels follow the plane with offset 0: the reply describes the bytes on the socket, not video memory.
        new DisplayReply(0, plane with { Offset = 0 }, plane.IsEnabled ? plane.Size : 0).Write(reply);
        socket.Send(reply, deadline);
        if (plane.IsEnabled)
            _device.ReadPlane(plane, (socket, deadline), static (pixels, to) => to.socket.Send(pixels, to.deadline));
    }

    /// <summary>Stops listening, closes the connections being served and deletes the socket.</summary>
    public void Dispose()
    {
        _watch.Dispose(); // waits for an accept in progress: no connection is added after this
        _listener.Dispose();
        lock (_lock)
        {
            foreach (var socket in _connections) socket.Shutdown();
        }
        _serving.Signal();
        _serving.Wait();
        _serving.Dispose();
        try { File.Delete(SocketPath); }
        catch (IOException) { }
    }

    [LoggerMessage(EventId = VfioUserLogEvents.DisplayRequestRefused, Level = LogLevel.Warning, Message = "display {Device}: request refused: {Reason}")]
    private partial void LogRefused(string device, string reason);

    [LoggerMessage(EventId = VfioUserLogEvents.DisplayConnectionEvicted, Level = LogLevel.Debug, Message = "display {Device}: a connection still waiting for its request was closed to make room for a newer one")]
    private partial void LogEvicted(string device);
}
