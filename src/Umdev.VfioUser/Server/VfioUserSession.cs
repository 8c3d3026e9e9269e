using System.Buffers;
using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.VfioUser.Protocol;
using Umdev.VfioUser.Transport;
using static Umdev.VfioUser.Transport.DescriptorList;

namespace Umdev.VfioUser.Server;

/// <summary>
/// One client connection to one device: negotiates, then serves commands in arrival order until the
/// client leaves. Everything the client handed over (DMA mappings, eventfds) is released when it goes,
/// and the device file is closed; the device's own state persists.
/// </summary>
public sealed partial class VfioUserSession : IDisposable
{
    private readonly VfioDevice _device;
    private readonly IVfioUserTransport _transport;
    private readonly VfioUserServerOptions _options;
    private readonly ILogger _logger;
    private readonly VfioUserMessageReader _reader;
    private readonly Lock _sendLock = new();
    private readonly Queue<DeferredCommand> _deferred = new();
    private byte[] _reply;
    private VfioDeviceFile? _file;
    private VfioDmaTable? _dma;
    private VfioUserCapabilities _client = new();
    private Thread? _thread;
    private volatile bool _closing;
    private int _version; // VersionPending, then VersionDone or VersionExpired, whichever comes first
    private const int VersionPending = 0, VersionDone = 1, VersionExpired = 2;

    private sealed record DeferredCommand(byte[] Message, List<FileDescriptorHandle>? Fds, bool FdsMisplaced);

    public VfioUserSession(VfioDevice device, IVfioUserTransport transport, VfioUserServerOptions options, ILogger logger)
    {
        _device = device;
        _transport = transport;
        _options = options;
        _logger = logger;
        _reader = new VfioUserMessageReader(transport, options.MaxMessage);
        _reply = ArrayPool<byte>.Shared.Rent(options.MaxMessage);
    }

    /// <summary>True once VERSION succeeded and the device is open.</summary>
    public bool Negotiated => _file is not null;

    /// <summary>Serves the connection on the calling thread until the client leaves; then releases everything.</summary>
    public void Run()
    {
        while (!RunUntilQuiet()) _transport.WaitReadable(Timeout.Infinite);
    }

    /// <summary>
    /// Serves the connection on the calling thread until the client leaves (true; everything is released) or,
    /// on a transport with a receive timeout, until the client has been quiet that long between messages
    /// (false): the caller then gives the thread up and calls this again, on any thread, once the connection is
    /// readable. The session's state stays as it was.
    /// </summary>
    internal bool RunUntilQuiet()
    {
        _thread = Thread.CurrentThread;
        if (!_deadlineStarted)
        {
            _deadlineStarted = true;
            _deadline = StartVersionDeadline();
        }
        bool quiet = false;
        try
        {
            while (!_closing)
            {
                while (_deferred.TryDequeue(out var d))
                {
                    try
                    {
                        if (!Handle(VfioUserHeader.Read(d.Message), d.Message.AsSpan(VfioUserHeader.Length), d.Fds, d.FdsMisplaced))
                            return true;
                    }
                    finally
                    {
                        CloseAll(d.Fds);
                    }
                }
                _reader.EndProtection();
                var status = _reader.Read(quietEnds: true);
                switch (status)
                {
                    case VfioUserReadStatus.Quiet:
                        quiet = true;
                        return false;
                    case VfioUserReadStatus.EndOfStream:
                        return true;
                    case VfioUserReadStatus.Truncated:
                        LogClosed("disconnected in the middle of a message");
                        return true;
                    case VfioUserReadStatus.Malformed:
                        LogClosed($"message size {_reader.Header.Size} below the header size");
                        return true;
                    case VfioUserReadStatus.Oversized:
                        // The body is discarded by the reader, so the stream stays in sync.
                        if (!_reader.Header.IsReply && !_reader.Header.NoReply && !SendError(_reader.Header, Errno.E2BIG)) return true;
                        if (!Negotiated) return true;
                        continue;
                    case VfioUserReadStatus.Implausible:
                        RefuseImplausible();
                        return true;
                }
                var fds = _reader.TakeFds();
                try
                {
                    if (!Handle(_reader.Header, _reader.Payload, fds, _reader.FdsMisplaced)) return true;
                }
                finally
                {
                    CloseAll(fds);
                }
            }
        }
        catch (ErrnoException e)
        {
            LogClosed(e.Message);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A fault in one session must not take the daemon down: drop this client only.
            LogDriverFault(0, e);
        }
        finally
        {
            if (!quiet)
            {
                _deadline?.Dispose();
                Release();
            }
        }
        return true;
    }

    private Timer? _deadline;
    private bool _deadlineStarted;

    /// <summary>Closes the connection if VERSION has not completed within <see cref="VfioUserServerOptions.VersionTimeout"/>.</summary>
    private Timer? StartVersionDeadline()
    {
        if (_options.VersionTimeout == Timeout.InfiniteTimeSpan) return null;
        return new Timer(_ =>
        {
            if (Interlocked.CompareExchange(ref _version, VersionExpired, VersionPending) != VersionPending) return;
            LogClosed($"no VERSION within {_options.VersionTimeout.TotalSeconds:0.###} s");
            Close();
        }, null, _options.VersionTimeout, Timeout.InfiniteTimeSpan);
    }

    /// <summary>A size no message can have: say so (if a reply is expected) and end the connection, which cannot be resynchronised.</summary>
    private void RefuseImplausible()
    {
        var header = _reader.Header;
        if (!header.IsReply && !header.NoReply) SendError(header, Errno.E2BIG);
        LogClosed($"message size {header.Size} far beyond the largest allowed ({_reader.MaxMessage})");
    }

    /// <summary>Asks the session to end: the connection is shut down and <see cref="Run"/> returns.</summary>
    public void Close()
    {
        _closing = true;
        _transport.Shutdown();
    }

    /// <summary>Signals the client's REQ eventfd (device release request); false if it armed none.</summary>
    public bool SignalRequest() => _device.Interrupts.Spec.Req && _device.Interrupts.Trigger(VfioPci.ReqIrqIndex);

    /// <summary>Handles one message; false ends the connection.</summary>
    private bool Handle(in VfioUserHeader header, ReadOnlySpan<byte> payload, List<FileDescriptorHandle>? fds, bool fdsMisplaced)
    {
        if (header.IsReply)
        {
            CompleteClientDma(header, payload, fds);
            return true;
        }
        if (!header.IsCommand) return header.NoReply || SendError(header, Errno.EINVAL);
        if (!Negotiated)
        {
            if (header.Command != (ushort)VfioUserCommand.Version)
            {
                if (!header.NoReply) SendError(header, Errno.EINVAL);
                LogClosed($"command {header.Command} before VERSION");
                return false;
            }
            try
            {
                if (fds is { Count: > 0 } || fdsMisplaced) ThrowHelper.Throw(Errno.EINVAL, "descriptors with VERSION");
                // The deadline and this VERSION race for the session: once the deadline fired it is closing.
                if (Interlocked.CompareExchange(ref _version, VersionDone, VersionPending) != VersionPending) return false;
                int versionLength = Negotiate(payload, header.Size);
                return header.NoReply || SendReply(header, versionLength, default);
            }
            catch (ErrnoException e)
            {
                if (!header.NoReply) SendError(header, e.Errno);
                LogClosed($"VERSION refused: {e.Message}");
                return false;
            }
        }
        if (header.Command == (ushort)VfioUserCommand.Version)
        {
            if (!header.NoReply) SendError(header, Errno.EINVAL);
            LogClosed("second VERSION");
            return false;
        }
        FileDescriptorHandle? replyFd = null;
        int length;
        try
        {
            if (fdsMisplaced) ThrowHelper.Throw(Errno.EINVAL, "descriptors not at the start of a message, or too many");
            length = Dispatch(header, payload, fds, ref replyFd);
        }
        catch (ErrnoException e)
        {
            return header.NoReply || SendError(header, e.Errno == Errno.None ? Errno.EINVAL : e.Errno);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogDriverFault(header.Command, e);
            return header.NoReply || SendError(header, Errno.EIO);
        }
        if (header.NoReply) return true;
        return replyFd is null ? SendReply(header, length, default) : SendReply(header, length, [replyFd]);
    }

    private static void RefuseFds(List<FileDescriptorHandle>? fds)
    {
        if (fds is { Count: > 0 }) ThrowHelper.Throw(Errno.EINVAL, "unexpected descriptors");
    }

    /// <summary>Runs a command; writes the reply payload after the header in the reply buffer and returns its length.</summary>
    private int Dispatch(in VfioUserHeader header, ReadOnlySpan<byte> p, List<FileDescriptorHandle>? fds, ref FileDescriptorHandle? replyFd)
    {
        var reply = _reply.AsSpan(VfioUserHeader.Length);
        switch ((VfioUserCommand)header.Command)
        {
            case VfioUserCommand.RegionRead:
                RefuseFds(fds);
                return RegionRead(p, reply);
            case VfioUserCommand.RegionWrite:
                RefuseFds(fds);
                return RegionWrite(p, reply);
            case VfioUserCommand.DmaMap:
                return DmaMap(p, fds);
            case VfioUserCommand.DmaUnmap:
                RefuseFds(fds);
                return DmaUnmap(p, reply);
            case VfioUserCommand.DeviceGetInfo:
                RefuseFds(fds);
                return DeviceGetInfo(p, reply);
            case VfioUserCommand.DeviceGetRegionInfo:
                RefuseFds(fds);
                return GetRegionInfo(p, reply, ref replyFd);
            case VfioUserCommand.DeviceGetRegionIoFds:
                RefuseFds(fds);
                return GetRegionIoFds(p, reply);
            case VfioUserCommand.DeviceGetIrqInfo:
                RefuseFds(fds);
                return GetIrqInfo(p, reply);
            case VfioUserCommand.DeviceSetIrqs:
                return SetIrqs(p, fds);
            case VfioUserCommand.DeviceReset:
                RefuseFds(fds);
                File.Reset();
                return 0;
            case VfioUserCommand.RegionWriteMulti when _options.WriteMultiple:
                RefuseFds(fds);
                return RegionWriteMulti(p, reply);
            case VfioUserCommand.DeviceFeature:
                RefuseFds(fds);
                return DeviceFeature(p, reply);
            case VfioUserCommand.MigDataRead:
                RefuseFds(fds);
                return MigDataRead(p, reply);
            case VfioUserCommand.MigDataWrite:
                RefuseFds(fds);
                return MigDataWrite(p);
            default:
                return ThrowHelper.Throw<int>(Errno.ENOSYS, $"unknown command {header.Command}");
        }
    }

    private VfioDeviceFile File => _file ?? ThrowHelper.Throw<VfioDeviceFile>(Errno.ENODEV);

    private bool SendReply(in VfioUserHeader request, int payloadLength, ReadOnlySpan<FileDescriptorHandle> fds)
    {
        request.ReplyWith(payloadLength).Write(_reply);
        return Send(_reply.AsSpan(0, VfioUserHeader.Length + payloadLength), fds);
    }

    private bool SendError(in VfioUserHeader request, Errno errno)
    {
        Span<byte> b = stackalloc byte[VfioUserHeader.Length];
        request.ErrorReply((uint)errno).Write(b);
        return Send(b, default);
    }

    private bool Send(ReadOnlySpan<byte> message, ReadOnlySpan<FileDescriptorHandle> fds)
    {
        try
        {
            lock (_sendLock) _transport.Send(message, fds);
            return true;
        }
        catch (ErrnoException e)
        {
            LogClosed($"send failed: {e.Message}");
            return false;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    private void Release()
    {
        _closing = true;
        FailPendingDma();
        while (_deferred.TryDequeue(out var d)) CloseAll(d.Fds);
        try
        {
            if (_dma is not null) _device.DetachDma(_dma);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogDriverFault(0, e);
        }
        var file = Interlocked.Exchange(ref _file, null);
        try
        {
            file?.Dispose();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogDriverFault(0, e);
        }
        _reader.Dispose();
        _transport.Dispose();
        var reply = Interlocked.Exchange(ref _reply, []);
        if (reply.Length > 0) ArrayPool<byte>.Shared.Return(reply);
    }

    public void Dispose() => Close();

    [LoggerMessage(EventId = VfioUserLogEvents.ClientClosed, Level = LogLevel.Information, Message = "vfio-user client of {Device} closed: {Reason}")]
    private partial void LogClosedCore(string device, string reason);

    private void LogClosed(string reason) => LogClosedCore(_device.Name, reason);

    [LoggerMessage(EventId = VfioUserLogEvents.DriverFailed, Level = LogLevel.Error, Message = "vfio-user {Device}: driver failed on command {Command}")]
    private partial void LogDriverFaultCore(string device, ushort command, Exception e);

    private void LogDriverFault(ushort command, Exception e) => LogDriverFaultCore(_device.Name, command, e);
}
