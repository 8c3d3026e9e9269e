using Microsoft.Extensions.Logging;
using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.VfioUser.Display;

/// <summary>
/// A device's display socket: answers each connection's one request with the primary plane and the
/// memory holding it (SCM_RIGHTS), then closes it. It is separate from the vfio-user socket, which serves
/// one VMM at a time, so the screen can be read while a VMM holds the device, without acting as one.
/// Connections are served one after another; a client gets <see cref="RequestTimeoutMs"/> to ask.
/// </summary>
public sealed partial class VfioDisplayEndpoint : IDisposable
{
    /// <summary>How long a connection may take to send its request before it is closed.</summary>
    public const int RequestTimeoutMs = 2000;

    private readonly VfioDevice _device;
    private readonly ILogger _logger;
    private readonly UnixSocket _listener;
    private readonly Thread _thread;

    /// <summary>Listens on <paramref name="socketPath"/> (mode 0600, replacing a stale socket) for <paramref name="device"/>, which has a display.</summary>
    public VfioDisplayEndpoint(VfioDevice device, string socketPath, ILogger logger)
    {
        _device = device;
        _logger = logger;
        SocketPath = socketPath;
        if (File.Exists(socketPath)) File.Delete(socketPath);
        _listener = UnixSocket.Listen(socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _thread = new Thread(AcceptLoop) { IsBackground = true, Name = $"display {device.Name}" };
        _thread.Start();
    }

    /// <summary>Where it listens.</summary>
    public string SocketPath { get; }

    private void AcceptLoop()
    {
        while (_listener.Accept() is { } socket)
        {
            using (socket)
            {
                try
                {
                    Serve(socket);
                }
                catch (Exception e)
                {
                    // The client went away or sent garbage (or a driver failed): the next one is served.
                    LogRefused(_device.Name, e.Message);
                }
            }
        }
    }

    private void Serve(UnixSocket socket)
    {
        Span<byte> request = stackalloc byte[DisplayRequest.Length + 1];
        int filled = 0;
        while (filled < request.Length && socket.WaitReadable(RequestTimeoutMs))
        {
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
        FileDescriptorHandle? memory = null;
        try
        {
            var plane = _device.QueryGfxPlane();
            if (plane.IsEnabled) memory = _device.OpenPlaneMemory(plane);
            new DisplayReply(0, plane, memory is null ? 0 : (ulong)memory.GetRegularFileSize()).Write(reply);
        }
        catch (ErrnoException e)
        {
            memory?.Dispose();
            memory = null;
            new DisplayReply(e.Errno, VfioGfxPlane.None, 0).Write(reply);
        }
        using (memory)
        {
            if (memory is null) socket.Send(reply);
            else socket.Send(reply, [memory]);
        }
    }

    /// <summary>Stops listening and deletes the socket.</summary>
    public void Dispose()
    {
        _listener.Shutdown();
        _thread.Join();
        _listener.Dispose();
        try { File.Delete(SocketPath); }
        catch (IOException) { }
    }

    [LoggerMessage(EventId = VfioUserLogEvents.DisplayRequestRefused, Level = LogLevel.Warning, Message = "display {Device}: request refused: {Reason}")]
    private partial void LogRefused(string device, string reason);
}
