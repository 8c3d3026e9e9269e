using System.Runtime.InteropServices;
using Umdev.Interop.Native;

namespace Umdev.Interop;

/// <summary>mount(2), umount2(2) and the questions a daemon asks about its mount point.</summary>
public static class MountTable
{
    /// <summary>Mounts a filesystem nosuid,nodev,noexec; errno is turned into <see cref="ErrnoException"/>.</summary>
    public static void Mount(string source, string target, string fsType, string data)
    {
        const ulong flags = Libc.MS_NOSUID | Libc.MS_NODEV | Libc.MS_NOEXEC;
        if (Libc.Mount(source, target, fsType, flags, data) != 0) ThrowHelper.ThrowLastError($"mount {target}");
    }

    /// <summary>Lazy unmount (MNT_DETACH): the mount disappears now, the filesystem when its last user leaves.</summary>
    public static void DetachUnmount(string target)
    {
        if (Libc.Umount2(target, Libc.MNT_DETACH | Libc.UMOUNT_NOFOLLOW) != 0) ThrowHelper.ThrowLastError($"umount {target}");
    }

    /// <summary>
    /// Opens the directory and takes an exclusive flock on it, held until the handle is disposed: two
    /// daemons starting at once on one mount point cannot both mount. EWOULDBLOCK (EAGAIN) if another holds it.
    /// </summary>
    public static FileDescriptorHandle LockDirectory(string path)
    {
        int fd = Libc.Open(path, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC);
        if (fd < 0) ThrowHelper.ThrowLastError($"open {path}");
        var handle = new FileDescriptorHandle(fd);
        if (Libc.Flock(fd, Libc.LOCK_EX | Libc.LOCK_NB) != 0)
        {
            var e = ErrnoException.FromLastPInvokeError($"lock {path}");
            handle.Dispose();
            throw e;
        }
        return handle;
    }

    /// <summary>
    /// The absolute path as /proc/self/mountinfo names it: the directory holding the last component is
    /// resolved with realpath(3) (so /var/run/x becomes /run/x), the last component is kept, so a stale
    /// mount there (which fails every stat) can still be named.
    /// </summary>
    public static string CanonicalPath(string path)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        string? dir = Path.GetDirectoryName(full);
        if (dir is null) return full;
        nint resolved = Libc.RealPath(dir, 0);
        if (resolved == 0) return full; // the caller reports the missing directory
        try
        {
            return Path.Combine(Marshal.PtrToStringUTF8(resolved)!, Path.GetFileName(full));
        }
        finally
        {
            Libc.Free(resolved);
        }
    }

    /// <summary>stat(2) of a path: <see cref="Errno.None"/> if it answers, else its errno (ENOTCONN for a dead FUSE daemon).</summary>
    public static unsafe Errno Probe(string path)
    {
        byte* buf = stackalloc byte[Libc.StatSize];
        return Libc.Stat(path, buf) == 0 ? Errno.None : (Errno)Marshal.GetLastPInvokeError();
    }

    /// <summary>The filesystem type mounted exactly at <paramref name="path"/> (innermost), or null if it is no mount point.</summary>
    public static string? FileSystemAt(string path)
    {
        string full = CanonicalPath(path);
        string? type = null;
        foreach (string line in File.ReadLines("/proc/self/mountinfo"))
        {
            // "id parent major:minor root mountpoint options [optional...] - fstype source superoptions"
            string[] fields = line.Split(' ');
            if (fields.Length < 5 || Unescape(fields[4]) != full) continue;
            int dash = Array.IndexOf(fields, "-");
            if (dash > 0 && dash + 1 < fields.Length) type = fields[dash + 1];
        }
        return type;
    }

    // mountinfo escapes space, tab, newline and backslash as \ooo.
    private static string Unescape(string field)
    {
        if (!field.Contains('\\')) return field;
        var sb = new System.Text.StringBuilder(field.Length);
        for (int i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length && IsOctal(field[i + 1]) && IsOctal(field[i + 2]) && IsOctal(field[i + 3]))
            {
                sb.Append((char)((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0')));
                i += 3;
            }
            else
            {
                sb.Append(field[i]);
            }
        }
        return sb.ToString();
    }

    private static bool IsOctal(char c) => c is >= '0' and <= '7';
}
