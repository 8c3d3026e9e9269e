using Umdev.Interop.Native;

namespace Umdev.Interop;

/// <summary>File seals of a memfd (fcntl(2) <c>F_SEAL_*</c>): once added, a seal is never removed.</summary>
[Flags]
public enum MemFdSeals
{
    None = 0,
    /// <summary>F_SEAL_SEAL: no further seal can be added.</summary>
    Seal = 0x1,
    /// <summary>F_SEAL_SHRINK: the file can never become smaller, so a mapping of it never faults for lack of file.</summary>
    Shrink = 0x2,
    /// <summary>F_SEAL_GROW: the file can never become larger.</summary>
    Grow = 0x4,
    /// <summary>F_SEAL_WRITE: the contents can never change (write, writable shared mappings and hole punching fail).</summary>
    Write = 0x8,
    /// <summary>F_SEAL_FUTURE_WRITE: no new write access, existing writable mappings keep theirs.</summary>
    FutureWrite = 0x10,
}

/// <summary>memfd_create(2): anonymous shared memory that can be passed to another process, and its seals.</summary>
public static class MemFd
{
    /// <summary>What <see cref="Create"/> seals by default: a size nobody holding the descriptor can change.</summary>
    public const MemFdSeals Resize = MemFdSeals.Shrink | MemFdSeals.Grow;

    /// <summary>
    /// A memfd of <paramref name="size"/> bytes that allows sealing, with <paramref name="seals"/> added (by
    /// default <see cref="Resize"/>: a process it is handed to cannot shrink it under the mappings of another).
    /// </summary>
    public static FileDescriptorHandle Create(string name, ulong size, MemFdSeals seals = Resize)
    {
        if (size > long.MaxValue) ThrowHelper.Throw(Errno.EINVAL, "memfd size out of range");
        int fd = Libc.MemfdCreate(name, Libc.MFD_CLOEXEC | Libc.MFD_ALLOW_SEALING);
        if (fd < 0) ThrowHelper.ThrowLastError("memfd_create");
        var handle = new FileDescriptorHandle(fd);
        try
        {
            handle.SetLength((long)size);
            if (seals != MemFdSeals.None) Seal(handle, seals);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>F_GET_SEALS: the seals of <paramref name="fd"/>; EINVAL for a file that cannot be sealed (not a memfd or shmem file).</summary>
    public static MemFdSeals GetSeals(FileDescriptorHandle fd)
    {
        ArgumentNullException.ThrowIfNull(fd);
        bool added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            int seals = Libc.Fcntl(fd.Fd, Libc.F_GET_SEALS, 0);
            if (seals < 0) ThrowHelper.ThrowLastError("fcntl F_GET_SEALS");
            return (MemFdSeals)seals;
        }
        finally
        {
            if (added) fd.DangerousRelease();
        }
    }

    /// <summary>
    /// F_ADD_SEALS: adds <paramref name="seals"/>. EPERM once sealed with <see cref="MemFdSeals.Seal"/> or
    /// for a descriptor opened read-only; EBUSY for <see cref="MemFdSeals.Write"/> while a writable shared
    /// mapping exists; EINVAL for a file that cannot be sealed.
    /// </summary>
    public static void Seal(FileDescriptorHandle fd, MemFdSeals seals)
    {
        ArgumentNullException.ThrowIfNull(fd);
        bool added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            if (Libc.Fcntl(fd.Fd, Libc.F_ADD_SEALS, (int)seals) != 0) ThrowHelper.ThrowLastError("fcntl F_ADD_SEALS");
        }
        finally
        {
            if (added) fd.DangerousRelease();
        }
    }

    /// <summary>
    /// True when <paramref name="fd"/> is sealed against shrinking, already or by this call; false when it
    /// cannot be (a file that cannot be sealed, sealing closed, or a read-only descriptor). A mapping of such a
    /// file can fault whenever its other holders truncate it.
    /// </summary>
    public static bool TrySealShrink(FileDescriptorHandle fd)
    {
        try
        {
            if ((GetSeals(fd) & MemFdSeals.Shrink) != 0) return true;
            Seal(fd, MemFdSeals.Shrink);
            return true;
        }
        catch (ErrnoException e) when (e.Errno is Errno.EINVAL or Errno.EPERM)
        {
            return false;
        }
    }
}
