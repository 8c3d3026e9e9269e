using System.Runtime.InteropServices;
using System.Text;
using Umdev.Interop.Native;

namespace Umdev.Interop;

/// <summary>
/// An AF_UNIX stream socket with file-descriptor passing (SCM_RIGHTS). Every received descriptor is
/// wrapped in a <see cref="FileDescriptorHandle"/> at once, so it is closed on every error path.
/// </summary>
public sealed class UnixSocket : FileDescriptorHandle
{
    /// <summary>Most descriptors one receive accepts; more makes the kernel set MSG_CTRUNC.</summary>
    public const int MaxReceiveFds = 16;

    /// <summary>The kernel's SCM_MAX_FD.</summary>
    public const int MaxSendFds = 253;

    private UnixSocket(int fd) : base(fd, true) { }

    private static UnixSocket NewSocket()
    {
        int fd = Libc.Socket(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0) ThrowHelper.ThrowLastError("socket");
        return new UnixSocket(fd);
    }

    private static unsafe Libc.SockaddrUn Address(string path, out uint length)
    {
        var bytes = Encoding.UTF8.GetBytes(path);
        if (bytes.Length >= Libc.SunPathLength) ThrowHelper.Throw(Errno.ENAMETOOLONG, $"socket path too long: {path}");
        var addr = new Libc.SockaddrUn { Family = Libc.AF_UNIX };
        bytes.CopyTo(new Span<byte>(addr.Path, Libc.SunPathLength));
        length = (uint)(2 + bytes.Length + 1);
        return addr;
    }

    /// <summary>Binds to <paramref name="path"/> with the given file mode and listens.</summary>
    public static unsafe UnixSocket Listen(string path, UnixFileMode mode, int backlog = 16)
    {
        var socket = NewSocket();
        try
        {
            var addr = Address(path, out uint len);
            if (Libc.Bind(socket.Fd, &addr, len) != 0) ThrowHelper.ThrowLastError($"bind {path}");
            // Before listen() nobody can connect, so the mode is in place before the first client.
            if (Libc.Chmod(path, (uint)mode) != 0) ThrowHelper.ThrowLastError($"chmod {path}");
            if (Libc.Listen(socket.Fd, backlog) != 0) ThrowHelper.ThrowLastError("listen");
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public static unsafe UnixSocket Connect(string path)
    {
        var socket = NewSocket();
        var addr = Address(path, out uint len);
        while (Libc.Connect(socket.Fd, &addr, len) != 0)
        {
            if (LastErrno == Errno.EINTR) continue;
            var e = ErrnoException.FromLastPInvokeError($"connect {path}");
            socket.Dispose();
            throw e;
        }
        return socket;
    }

    public static unsafe (UnixSocket, UnixSocket) CreatePair()
    {
        int* sv = stackalloc int[2];
        if (Libc.SocketPair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0, sv) != 0)
            ThrowHelper.ThrowLastError("socketpair");
        return (new UnixSocket(sv[0]), new UnixSocket(sv[1]));
    }

    private static Errno LastErrno => (Errno)Marshal.GetLastPInvokeError();

    /// <summary>Accepts a connection; null once the listener has been shut down or closed.</summary>
    public UnixSocket? Accept() => Accept(wait: true);

    /// <summary>
    /// Makes a listener's accept non-blocking (O_NONBLOCK), for <see cref="TryAccept"/>: a listener watched by an
    /// <see cref="Epoll"/> instead of a thread of its own. Connections it accepts are blocking all the same.
    /// </summary>
    public void SetNonBlocking()
    {
        bool added = false;
        try
        {
            DangerousAddRef(ref added);
            int flags = Libc.Fcntl(Fd, Libc.F_GETFL, 0);
            if (flags < 0 || Libc.Fcntl(Fd, Libc.F_SETFL, flags | Libc.O_NONBLOCK) < 0) ThrowHelper.ThrowLastError("fcntl O_NONBLOCK");
        }
        finally
        {
            if (added) DangerousRelease();
        }
    }

    /// <summary>
    /// SO_RCVTIMEO: a <see cref="Receive"/> that waits longer than <paramref name="timeout"/> for a first byte fails
    /// with EAGAIN (an <see cref="ErrnoException"/>) instead of waiting on; <see cref="Timeout.InfiniteTimeSpan"/>
    /// or zero waits forever. Costs nothing per receive: what lets a thread give up a connection gone quiet.
    /// </summary>
    public unsafe void SetReceiveTimeout(TimeSpan timeout)
    {
        long us = timeout <= TimeSpan.Zero ? 0 : Math.Max(1, timeout.Ticks / 10);
        var value = new Libc.TimeVal { Seconds = us / 1_000_000, Microseconds = us % 1_000_000 };
        bool added = false;
        try
        {
            DangerousAddRef(ref added);
            if (Libc.SetSockOpt(Fd, Libc.SOL_SOCKET, Libc.SO_RCVTIMEO, &value, (uint)sizeof(Libc.TimeVal)) != 0)
                ThrowHelper.ThrowLastError("setsockopt SO_RCVTIMEO");
        }
        finally
        {
            if (added) DangerousRelease();
        }
    }

    /// <summary>
    /// Accepts a pending connection of a non-blocking listener (<see cref="SetNonBlocking"/>); null when none is
    /// pending, or the listener has been shut down or closed. Out of descriptors, it backs off briefly and returns null.
    /// </summary>
    public UnixSocket? TryAccept() => Accept(wait: false);

    private unsafe UnixSocket? Accept(bool wait)
    {
        bool added = false;
        try
        {
            DangerousAddRef(ref added);
            while (true)
            {
                int fd = Libc.Accept4(Fd, null, null, Libc.SOCK_CLOEXEC);
                if (fd >= 0) return new UnixSocket(fd);
                switch (LastErrno)
                {
                    case Errno.EINTR or Errno.ECONNABORTED: continue;
                    case Errno.EAGAIN when wait: continue;
                    case Errno.EAGAIN or Errno.EINVAL or Errno.EBADF: return null;
                    case Errno.EMFILE or Errno.ENFILE or Errno.ENOBUFS or Errno.ENOMEM:
                        // Out of descriptors: the connection stays queued; a pause keeps a retry from spinning.
                        Thread.Sleep(10);
                        if (wait) continue;
                        return null;
                    default: ThrowHelper.ThrowLastError("accept4"); return null;
                }
            }
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
        finally
        {
            if (added) DangerousRelease();
        }
    }

    /// <summary>
    /// Sends all of <paramref name="data"/>; <paramref name="fds"/> travel with its first bytes.
    /// EPIPE/ECONNRESET when the peer has gone.
    /// </summary>
    public unsafe void Send(ReadOnlySpan<byte> data, ReadOnlySpan<FileDescriptorHandle> fds = default)
    {
        if (fds.Length > MaxSendFds) ThrowHelper.Throw(Errno.EINVAL, "too many descriptors in one message");
        bool added = false;
        int refs = 0;
        try
        {
            DangerousAddRef(ref added);
            int controlLength = fds.Length > 0 ? Libc.CmsgSpace(4 * fds.Length) : 0;
            // Zeroed by the runtime (nothing here skips locals init), so the header's padding is 0.
            byte* control = stackalloc byte[Math.Max(controlLength, 1)];
            if (fds.Length > 0)
            {
                *(ulong*)control = (ulong)(Libc.CmsgHeaderSize + 4 * fds.Length);
                *(int*)(control + 8) = Libc.SOL_SOCKET;
                *(int*)(control + 12) = Libc.SCM_RIGHTS;
                int* slots = (int*)(control + Libc.CmsgHeaderSize);
                for (; refs < fds.Length; refs++)
                {
                    bool fdAdded = false;
                    fds[refs].DangerousAddRef(ref fdAdded);
                    slots[refs] = fds[refs].Fd;
                }
            }
            fixed (byte* p = data)
            {
                int sent = 0;
                do
                {
                    var iov = new Libc.IoVec { Base = p + sent, Length = (nuint)(data.Length - sent) };
                    var msg = new Libc.MsgHdr { Iov = &iov, IovLength = 1 };
                    if (sent == 0 && controlLength > 0)
                    {
                        msg.Control = control;
                        msg.ControlLength = (nuint)controlLength;
                    }
                    nint n = Libc.SendMsg(Fd, &msg, Libc.MSG_NOSIGNAL);
                    if (n < 0)
                    {
                        if (LastErrno == Errno.EINTR) continue;
                        ThrowHelper.ThrowLastError("sendmsg");
                    }
                    sent += (int)n;
                } while (sent < data.Length);
            }
        }
        finally
        {
            for (int i = 0; i < refs; i++) fds[i].DangerousRelease();
            if (added) DangerousRelease();
        }
    }

    /// <summary>
    /// Sends all of <paramref name="data"/> before <paramref name="deadline"/> (an
    /// <see cref="Environment.TickCount64"/> value), in pieces of at most <paramref name="chunk"/> bytes without
    /// blocking, polling for room while the socket buffer is full: a peer that stops reading costs at most the
    /// time left, not a thread. ETIMEDOUT once the deadline passes; EPIPE/ECONNRESET when the peer has gone.
    /// </summary>
    public unsafe void Send(ReadOnlySpan<byte> data, long deadline, int chunk = 256 * 1024)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(chunk);
        bool added = false;
        try
        {
            DangerousAddRef(ref added);
            fixed (byte* p = data)
            {
                int sent = 0;
                while (sent < data.Length)
                {
                    var iov = new Libc.IoVec { Base = p + sent, Length = (nuint)Math.Min(chunk, data.Length - sent) };
                    var msg = new Libc.MsgHdr { Iov = &iov, IovLength = 1 };
                    nint n = Libc.SendMsg(Fd, &msg, Libc.MSG_NOSIGNAL | Libc.MSG_DONTWAIT);
                    if (n >= 0)
                    {
                        sent += (int)n;
                        continue;
                    }
                    if (LastErrno == Errno.EINTR) continue;
                    if (LastErrno != Errno.EAGAIN) ThrowHelper.ThrowLastError("sendmsg");
                    // The socket buffer is full: wait for the peer to read, but only until the deadline.
                    long left = deadline - Environment.TickCount64;
                    var pfd = new Libc.PollFd { Fd = Fd, Events = Libc.POLLOUT };
                    if (left <= 0 || Poll(&pfd, 1, (int)Math.Min(left, int.MaxValue), "poll") == 0)
                        ThrowHelper.Throw(Errno.ETIMEDOUT, $"sendmsg: peer not reading ({data.Length - sent} of {data.Length} bytes unsent)");
                }
            }
        }
        finally
        {
            if (added) DangerousRelease();
        }
    }

    /// <summary>
    /// One recvmsg: returns the bytes read (0 = end of stream). Descriptors that came along are appended
    /// to <paramref name="fds"/> (or closed when it is null). <paramref name="controlTruncated"/> reports
    /// MSG_CTRUNC: the sender passed more descriptors than fit and the kernel dropped the rest.
    /// </summary>
    public unsafe int Receive(Span<byte> buffer, List<FileDescriptorHandle>? fds, out bool controlTruncated)
    {
        const int controlSize = Libc.CmsgHeaderSize + 4 * MaxReceiveFds;
        byte* control = stackalloc byte[controlSize];
        bool added = false;
        try
        {
            DangerousAddRef(ref added);
            fixed (byte* p = buffer)
            {
                while (true)
                {
                    var iov = new Libc.IoVec { Base = p, Length = (nuint)buffer.Length };
                    var msg = new Libc.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = controlSize };
                    nint n = Libc.RecvMsg(Fd, &msg, Libc.MSG_CMSG_CLOEXEC);
                    if (n < 0)
                    {
                        if (LastErrno == Errno.EINTR) continue;
                        ThrowHelper.ThrowLastError("recvmsg");
                    }
                    controlTruncated = (msg.Flags & Libc.MSG_CTRUNC) != 0;
                    if (msg.ControlLength >= Libc.CmsgHeaderSize) TakeDescriptors(control, (int)msg.ControlLength, fds);
                    return (int)n;
                }
            }
        }
        finally
        {
            if (added) DangerousRelease();
        }
    }

    private static unsafe void TakeDescriptors(byte* control, int length, List<FileDescriptorHandle>? fds)
    {
        int at = 0;
        while (at + Libc.CmsgHeaderSize <= length)
        {
            ulong cmsgLength = *(ulong*)(control + at);
            if (cmsgLength < Libc.CmsgHeaderSize || cmsgLength > (ulong)(length - at)) break;
            if (*(int*)(control + at + 8) == Libc.SOL_SOCKET && *(int*)(control + at + 12) == Libc.SCM_RIGHTS)
            {
                int count = (int)(cmsgLength - Libc.CmsgHeaderSize) / 4;
                int* slots = (int*)(control + at + Libc.CmsgHeaderSize);
                for (int i = 0; i < count; i++)
                {
                    var handle = new FileDescriptorHandle(slots[i]);
                    if (fds is null) handle.Dispose();
                    else fds.Add(handle);
                }
            }
            at += Libc.CmsgSpace((int)cmsgLength - Libc.CmsgHeaderSize);
        }
    }

    /// <summary>Shuts both directions down: wakes a thread blocked in accept/recv on this socket.</summary>
    public void Shutdown()
    {
        bool added = false;
        try
        {
            DangerousAddRef(ref added);
            Libc.Shutdown(Fd, Libc.SHUT_RDWR);
        }
        catch (ObjectDisposedException) { }
        finally
        {
            if (added) DangerousRelease();
        }
    }
}
