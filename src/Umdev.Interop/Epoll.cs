using System.Runtime.InteropServices;
using Umdev.Interop.Native;

namespace Umdev.Interop;

/// <summary>The readiness an <see cref="Epoll"/> interest asks for or an event reports (EPOLLIN, …).</summary>
[Flags]
public enum EpollEvents : uint
{
    None = 0,
    In = 0x001,
    Out = 0x004,
    Error = 0x008,
    HangUp = 0x010,
    ReadHangUp = 0x2000,
    /// <summary>EPOLLONESHOT: reported once, then disarmed until <see cref="Epoll.Modify"/> arms it again.</summary>
    OneShot = 1u << 30,
}

/// <summary>One ready descriptor: what happened and the data its interest was registered with.</summary>
public readonly record struct EpollEvent(EpollEvents Events, ulong Data);

/// <summary>
/// An epoll(7) instance: many descriptors watched by whichever threads wait on it, so idle descriptors cost
/// no thread. Several threads may wait at once; with <see cref="EpollEvents.OneShot"/> each readiness goes
/// to one of them.
/// </summary>
public sealed class Epoll : FileDescriptorHandle
{
    private Epoll(int fd) : base(fd, true) { }

    /// <summary>A new epoll instance (close-on-exec).</summary>
    public static Epoll Create()
    {
        int fd = Libc.EpollCreate1(Libc.EPOLL_CLOEXEC);
        if (fd < 0) ThrowHelper.ThrowLastError("epoll_create1");
        return new Epoll(fd);
    }

    /// <summary>Watches <paramref name="target"/> for <paramref name="events"/>, reporting <paramref name="data"/> with them.</summary>
    public void Add(FileDescriptorHandle target, EpollEvents events, ulong data) => Control(Libc.EPOLL_CTL_ADD, target, events, data, "epoll_ctl add");

    /// <summary>Changes what <paramref name="target"/> is watched for (and re-arms a one-shot interest).</summary>
    public void Modify(FileDescriptorHandle target, EpollEvents events, ulong data) => Control(Libc.EPOLL_CTL_MOD, target, events, data, "epoll_ctl mod");

    /// <summary>Stops watching <paramref name="target"/>.</summary>
    public void Remove(FileDescriptorHandle target) => Control(Libc.EPOLL_CTL_DEL, target, EpollEvents.None, 0, "epoll_ctl del");

    private unsafe void Control(int op, FileDescriptorHandle target, EpollEvents events, ulong data, string what)
    {
        byte* ev = stackalloc byte[16];
        *(uint*)ev = (uint)events;
        *(ulong*)(ev + Libc.EpollDataOffset) = data;
        bool added = false, targetAdded = false;
        try
        {
            DangerousAddRef(ref added);
            target.DangerousAddRef(ref targetAdded);
            if (Libc.EpollCtl(Fd, op, target.Fd, ev) != 0) ThrowHelper.ThrowLastError(what);
        }
        finally
        {
            if (targetAdded) target.DangerousRelease();
            if (added) DangerousRelease();
        }
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> (-1: forever) for ready descriptors and fills
    /// <paramref name="events"/>; the number filled, 0 on timeout or when a signal interrupted the wait.
    /// </summary>
    public unsafe int Wait(Span<EpollEvent> events, int timeoutMs)
    {
        int size = Libc.EpollEventSize;
        byte* raw = stackalloc byte[size * events.Length];
        bool added = false;
        try
        {
            DangerousAddRef(ref added);
            int n = Libc.EpollWait(Fd, raw, events.Length, timeoutMs);
            if (n < 0)
            {
                if ((Errno)Marshal.GetLastPInvokeError() == Errno.EINTR) return 0;
                ThrowHelper.ThrowLastError("epoll_wait");
            }
            for (int i = 0; i < n; i++)
            {
                byte* e = raw + i * size;
                events[i] = new EpollEvent((EpollEvents)(*(uint*)e), *(ulong*)(e + Libc.EpollDataOffset));
            }
            return n;
        }
        finally
        {
            if (added) DangerousRelease();
        }
    }
}
