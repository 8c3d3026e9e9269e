using System.Runtime.InteropServices;
using Umdev.Interop.Native;

namespace Umdev.Interop;

/// <summary>
/// A Linux eventfd(2): the kernel object VFIO uses to signal interrupts. Signalling adds to the
/// 64-bit counter; reading returns and clears it.
/// </summary>
public sealed class EventFd : FileDescriptorHandle
{
    private EventFd(int fd, bool owns) : base(fd, owns) { }

    /// <summary>A new eventfd (close-on-exec) with counter 0.</summary>
    public static EventFd Create(bool nonBlocking = false)
    {
        int fd = Libc.EventFd(0, Libc.EFD_CLOEXEC | (nonBlocking ? Libc.EFD_NONBLOCK : 0));
        if (fd < 0) ThrowHelper.ThrowLastError("eventfd");
        return new EventFd(fd, true);
    }

    /// <summary>
    /// Takes ownership of a descriptor received from elsewhere (e.g. SCM_RIGHTS). Refuses, with
    /// EINVAL as the kernel's eventfd_ctx_fdget does, a descriptor that is not an eventfd; the
    /// descriptor is then closed.
    /// </summary>
    public static EventFd Adopt(FileDescriptorHandle received)
    {
        int fd = received.Fd;
        string target;
        // LinkTarget is the raw readlink text; ResolveLinkTarget would prefix the link's directory.
        try { target = new FileInfo($"/proc/self/fd/{fd}").LinkTarget ?? ""; }
        catch (IOException) { target = ""; }
        if (target != "anon_inode:[eventfd]")
        {
            received.Dispose();
            ThrowHelper.Throw(Errno.EINVAL, "descriptor is not an eventfd");
        }
        received.SetHandleAsInvalid();
        return new EventFd(fd, true);
    }

    /// <summary>Adds <paramref name="value"/> to the counter (what a device does to raise an interrupt).</summary>
    public unsafe void Signal(ulong value = 1)
    {
        bool added = false;
        DangerousAddRef(ref added);
        try
        {
            if (Libc.Write(Fd, &value, 8) != 8) ThrowHelper.ThrowLastError("eventfd write");
        }
        finally
        {
            if (added) DangerousRelease();
        }
    }

    /// <summary>Signals through a descriptor already kept alive by a reference (the owner may have disposed its handle).</summary>
    internal unsafe void SignalReferenced(ulong value)
    {
        if (Libc.Write(Fd, &value, 8) != 8) ThrowHelper.ThrowLastError("eventfd write");
    }

    /// <summary>Reads and clears the counter; 0 if it was zero and the fd is non-blocking.</summary>
    public unsafe ulong Consume()
    {
        ulong value = 0;
        bool added = false;
        DangerousAddRef(ref added);
        try
        {
            nint n = Libc.Read(Fd, &value, 8);
            if (n == 8) return value;
            if ((Errno)Marshal.GetLastPInvokeError() == Errno.EAGAIN) return 0;
            ThrowHelper.ThrowLastError("eventfd read");
            return 0;
        }
        finally
        {
            if (added) DangerousRelease();
        }
    }

    /// <summary>Waits for a signal and consumes it; 0 on timeout.</summary>
    public ulong Wait(int timeoutMs) => WaitReadable(timeoutMs) ? Consume() : 0;

    /// <summary>
    /// Takes a counted reference, as the kernel's eventfd_ctx_get does: the descriptor stays open
    /// until every reference is released, even if its owner disposes it first.
    /// </summary>
    public EventFdReference AddReference()
    {
        bool added = false;
        // A disposed handle makes DangerousAddRef throw ObjectDisposedException; the kernel says EBADF.
        try { DangerousAddRef(ref added); }
        catch (ObjectDisposedException) { }
        if (!added) ThrowHelper.Throw(Errno.EBADF, "eventfd is closed");
        return new EventFdReference(this);
    }
}

/// <summary>A counted reference to an <see cref="EventFd"/>; dispose to drop it.</summary>
public sealed class EventFdReference : IDisposable
{
    private EventFd? _eventFd;

    internal EventFdReference(EventFd eventFd) => _eventFd = eventFd;

    public EventFd EventFd => _eventFd ?? throw new ObjectDisposedException(nameof(EventFdReference));

    public void Signal(ulong value = 1) => EventFd.SignalReferenced(value);

    public void Dispose() => Interlocked.Exchange(ref _eventFd, null)?.DangerousRelease();
}
