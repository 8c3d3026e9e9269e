using System.Runtime.InteropServices;
using Umdev.Interop.Native;

namespace Umdev.Interop;

/// <summary>
/// An open <c>/dev/fuse</c>: the channel over which the kernel sends FUSE requests and receives replies.
/// Opened non-blocking so request threads can also wait for a stop signal.
/// </summary>
public sealed class FuseDevice : FileDescriptorHandle
{
    public const string Path = "/dev/fuse";

    private FuseDevice(int fd) : base(fd, true) { }

    /// <summary>Opens <c>/dev/fuse</c>; ENOENT/ENODEV if FUSE is not available, EACCES/EPERM without permission.</summary>
    public static FuseDevice Open()
    {
        int fd = Libc.Open(Path, Libc.O_RDWR | Libc.O_CLOEXEC | Libc.O_NONBLOCK);
        if (fd < 0) ThrowHelper.ThrowLastError($"open {Path}");
        return new FuseDevice(fd);
    }

    /// <summary>Waits until a request is pending (or the connection ended); false once <paramref name="stop"/> is signalled.</summary>
    public unsafe bool WaitRequest(EventFd stop)
    {
        bool addedSelf = false, addedStop = false;
        DangerousAddRef(ref addedSelf);
        stop.DangerousAddRef(ref addedStop);
        try
        {
            var fds = stackalloc Libc.PollFd[2];
            fds[0] = new Libc.PollFd { Fd = Fd, Events = Libc.POLLIN };
            fds[1] = new Libc.PollFd { Fd = stop.Fd, Events = Libc.POLLIN };
            Poll(fds, 2, -1, "poll /dev/fuse"); // no timeout: returns only with a descriptor ready
            return fds[1].REvents == 0;
        }
        finally
        {
            if (addedStop) stop.DangerousRelease();
            if (addedSelf) DangerousRelease();
        }
    }

    /// <summary>
    /// Reads one request into <paramref name="buffer"/> (which must hold the largest request). Returns its
    /// length, 0 if none is pending (EAGAIN) or the read was interrupted, -1 once the filesystem is gone (ENODEV).
    /// </summary>
    public unsafe int ReadRequest(Span<byte> buffer)
    {
        bool added = false;
        DangerousAddRef(ref added);
        try
        {
            fixed (byte* p = buffer)
            {
                nint n = Libc.Read(Fd, p, (nuint)buffer.Length);
                if (n >= 0) return (int)n;
                var errno = (Errno)Marshal.GetLastPInvokeError();
                // ENOENT: the request was interrupted and withdrawn before we got it.
                if (errno is Errno.EAGAIN or Errno.EINTR or Errno.ENOENT) return 0;
                if (errno == Errno.ENODEV) return -1;
                ThrowHelper.ThrowLastError("read /dev/fuse");
                return -1;
            }
        }
        finally
        {
            if (added) DangerousRelease();
        }
    }

    /// <summary>
    /// Writes one reply. Returns false if the kernel no longer wants it (ENOENT: the request was
    /// interrupted) or the filesystem is gone (ENODEV).
    /// </summary>
    public unsafe bool WriteReply(ReadOnlySpan<byte> reply)
    {
        bool added = false;
        DangerousAddRef(ref added);
        try
        {
            fixed (byte* p = reply)
            {
                nint n = Libc.Write(Fd, p, (nuint)reply.Length);
                if (n == reply.Length) return true;
                var errno = (Errno)Marshal.GetLastPInvokeError();
                if (n >= 0 || errno is Errno.ENOENT or Errno.ENODEV) return false;
                ThrowHelper.ThrowLastError("write /dev/fuse");
                return false;
            }
        }
        finally
        {
            if (added) DangerousRelease();
        }
    }
}
