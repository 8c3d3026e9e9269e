using Microsoft.Win32.SafeHandles;
using Umdev.Interop.Native;

namespace Umdev.Interop;

/// <summary>Owns one Linux file descriptor; closing the handle closes the descriptor exactly once.</summary>
public class FileDescriptorHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    public FileDescriptorHandle() : base(ownsHandle: true) { }

    public FileDescriptorHandle(int fd, bool ownsHandle = true) : base(ownsHandle) => SetHandle(fd);

    /// <summary>The raw descriptor number (valid only while the handle is alive).</summary>
    public int Fd => (int)handle;

    /// <summary>
    /// fstat(2): the size of the regular file (memfd, shm, file) behind the descriptor; EINVAL for anything
    /// else (socket, pipe, eventfd), which cannot back a mapping.
    /// </summary>
    public unsafe long GetRegularFileSize()
    {
        byte* st = stackalloc byte[Libc.StatSize];
        bool added = false;
        DangerousAddRef(ref added);
        try
        {
            if (Libc.Fstat(Fd, st) != 0) ThrowHelper.ThrowLastError("fstat");
        }
        finally
        {
            if (added) DangerousRelease();
        }
        if ((*(uint*)(st + Libc.StatModeOffset) & Libc.S_IFMT) != Libc.S_IFREG) ThrowHelper.Throw(Errno.EINVAL, "not a regular file");
        return *(long*)(st + Libc.StatSizeOffset);
    }

    /// <summary>ftruncate(2): makes the file behind the descriptor <paramref name="length"/> bytes long (EPERM on a memfd sealed against it).</summary>
    public void SetLength(long length)
    {
        bool added = false;
        DangerousAddRef(ref added);
        try
        {
            if (Libc.Ftruncate(Fd, length) != 0) ThrowHelper.ThrowLastError("ftruncate");
        }
        finally
        {
            if (added) DangerousRelease();
        }
    }

    /// <summary>dup(2): a new descriptor for the same open file, owned by the returned handle.</summary>
    public FileDescriptorHandle Duplicate()
    {
        bool added = false;
        DangerousAddRef(ref added);
        try
        {
            int fd = Libc.Dup(Fd);
            if (fd < 0) ThrowHelper.ThrowLastError("dup");
            return new FileDescriptorHandle(fd);
        }
        finally
        {
            if (added) DangerousRelease();
        }
    }

    /// <summary>
    /// A new, read-only open of the same file (through <c>/proc/self/fd</c>): what to hand a reader that must
    /// not write, e.g. the memory of a display a screenshot maps.
    /// </summary>
    public FileDescriptorHandle ReopenReadOnly()
    {
        bool added = false;
        DangerousAddRef(ref added);
        try
        {
            int fd = Libc.Open($"/proc/self/fd/{Fd}", Libc.O_RDONLY | Libc.O_CLOEXEC);
            if (fd < 0) ThrowHelper.ThrowLastError("open /proc/self/fd");
            return new FileDescriptorHandle(fd);
        }
        finally
        {
            if (added) DangerousRelease();
        }
    }

    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;

    /// <summary>Waits until the descriptor is readable; false on timeout.</summary>
    public unsafe bool WaitReadable(int timeoutMs)
    {
        bool added = false;
        DangerousAddRef(ref added);
        try
        {
            var pfd = new Libc.PollFd { Fd = Fd, Events = Libc.POLLIN };
            return Poll(&pfd, 1, timeoutMs, "poll") > 0;
        }
        finally
        {
            if (added) DangerousRelease();
        }
    }

    /// <summary>poll(2), restarted when a signal interrupts it (EINTR); the number of ready descriptors, 0 on timeout.</summary>
    private protected static unsafe int Poll(Libc.PollFd* fds, nuint count, int timeoutMs, string what)
    {
        while (true)
        {
            int rc = Libc.Poll(fds, count, timeoutMs);
            if (rc >= 0) return rc;
            if ((Errno)System.Runtime.InteropServices.Marshal.GetLastPInvokeError() != Errno.EINTR) ThrowHelper.ThrowLastError(what);
        }
    }
}
