using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Umdev.Interop.Native;

namespace Umdev.Interop;

/// <summary>
/// Opens a file that someone less trusted named, confined to a directory the administrator chose: one
/// <c>openat2</c> resolves the name beneath the directory without following any symlink or crossing any
/// mount point, so nothing swapped into the path before or during the open leads elsewhere.
/// </summary>
public static class ConfinedFile
{
    /// <summary>
    /// Opens <paramref name="relativePath"/> beneath <paramref name="directory"/> for data (read-write when
    /// <paramref name="writable"/>, else read-only): only a regular file or a block device is accepted, and
    /// the open never blocks (O_NONBLOCK at open, cleared afterwards). Errors (<see cref="ErrnoException"/>):
    /// ELOOP a symlink anywhere in the path; EINVAL a FIFO, socket, character device or other non-data file,
    /// a path that crosses a mount point, or a directory on a FUSE filesystem (whose server, this daemon's
    /// own tree included, may never answer the open); EISDIR a directory; otherwise the kernel's errno for
    /// the open (ENOENT, EACCES, EROFS, ...).
    /// </summary>
    public static unsafe SafeFileHandle OpenData(string directory, string relativePath, bool writable)
    {
        int dir = Libc.Open(directory, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        if (dir < 0) ThrowHelper.ThrowLastError($"open {directory}");
        using var dirHandle = new FileDescriptorHandle(dir);
        byte* fs = stackalloc byte[Libc.StatFsSize];
        if (Libc.Fstatfs(dir, fs) != 0) ThrowHelper.ThrowLastError($"statfs {directory}");
        if (*(long*)fs == Libc.FUSE_SUPER_MAGIC) ThrowHelper.Throw(Errno.EINVAL, $"{directory} is on a FUSE filesystem");

        var how = new Libc.OpenHow
        {
            Flags = (ulong)((writable ? Libc.O_RDWR : Libc.O_RDONLY) | Libc.O_NOFOLLOW | Libc.O_NONBLOCK | Libc.O_NOCTTY | Libc.O_CLOEXEC),
            Resolve = Libc.RESOLVE_BENEATH | Libc.RESOLVE_NO_SYMLINKS | Libc.RESOLVE_NO_MAGICLINKS | Libc.RESOLVE_NO_XDEV,
        };
        string name = Path.Combine(directory, relativePath);
        int fd;
        int races = 0;
        while ((fd = Libc.OpenAt2(dir, relativePath, how)) < 0)
        {
            var errno = (Errno)Marshal.GetLastPInvokeError();
            switch (errno)
            {
                case Errno.EINTR:
                case Errno.EAGAIN when ++races < 16: // the kernel saw a rename race it could not rule out: try again
                    continue;
                case Errno.ELOOP: ThrowHelper.Throw(Errno.ELOOP, $"{name}: a symlink in the path (symlinks are not followed)"); break;
                case Errno.EXDEV: ThrowHelper.Throw(Errno.EINVAL, $"{name}: the path crosses a mount point below {directory}"); break;
                case Errno.ENXIO: ThrowHelper.Throw(Errno.EINVAL, $"{name} is a socket or a device without a driver, not a file"); break;
                default: ThrowHelper.Throw(errno, $"open {name}: {ErrnoException.Describe(errno)}"); break;
            }
        }
        var file = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            byte* st = stackalloc byte[Libc.StatSize];
            if (Libc.Fstat(fd, st) != 0) ThrowHelper.ThrowLastError($"fstat {name}");
            uint type = *(uint*)(st + Libc.StatModeOffset) & Libc.S_IFMT;
            if (type == Libc.S_IFDIR) ThrowHelper.Throw(Errno.EISDIR, $"{name} is a directory");
            if (type != Libc.S_IFREG && type != Libc.S_IFBLK)
                ThrowHelper.Throw(Errno.EINVAL, $"{name} is neither a regular file nor a block device");
            int flags = Libc.Fcntl(fd, Libc.F_GETFL, 0);
            if (flags < 0 || Libc.Fcntl(fd, Libc.F_SETFL, flags & ~Libc.O_NONBLOCK) < 0) ThrowHelper.ThrowLastError($"fcntl {name}");
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }
}
