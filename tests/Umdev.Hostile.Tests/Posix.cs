using System.Runtime.InteropServices;
using System.Text;
using Umdev.Interop;

namespace Umdev.Hostile.Tests;

/// <summary>
/// The few system calls an attacker makes that the product's interop has no reason to offer: several
/// write(2)s on one open file, and ftruncate(2) of a descriptor it was handed.
/// </summary>
public static partial class Posix
{
    private const int O_WRONLY = 1, O_RDWR = 2, O_CLOEXEC = 0x80000;

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint Write(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    private static partial int Ftruncate(int fd, long length);

    [LibraryImport("libc", EntryPoint = "memfd_create", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int MemfdCreate(string name, uint flags);

    private const uint MFD_CLOEXEC = 1, MFD_ALLOW_SEALING = 2;

    /// <summary>A memfd as QEMU's memory-backend-memfd makes it: sealable, no seal set yet.</summary>
    public static FileDescriptorHandle SealableMemfd(string name, long size)
    {
        int n = MemfdCreate(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (n < 0) ThrowHelper.Throw(LastErrno, "memfd_create");
        var fd = new FileDescriptorHandle(n);
        if (Ftruncate(n, size) < 0) ThrowHelper.Throw(LastErrno, "ftruncate");
        return fd;
    }

    /// <summary>A memfd that can never be sealed (no MFD_ALLOW_SEALING: it is born with F_SEAL_SEAL).</summary>
    public static FileDescriptorHandle UnsealableMemfd(string name, long size)
    {
        int n = MemfdCreate(name, MFD_CLOEXEC);
        if (n < 0) ThrowHelper.Throw(LastErrno, "memfd_create");
        var fd = new FileDescriptorHandle(n);
        if (Ftruncate(n, size) < 0) ThrowHelper.Throw(LastErrno, "ftruncate");
        return fd;
    }

    private static Errno LastErrno => (Errno)Marshal.GetLastPInvokeError();

    /// <summary>Opens <paramref name="path"/> for writing and writes each piece with its own write(2); the errno of each (None for success), or of the open.</summary>
    public static unsafe Errno[] WritePieces(string path, params byte[][] pieces)
    {
        int fd = Open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0) return [LastErrno];
        try
        {
            var result = new Errno[pieces.Length];
            for (int i = 0; i < pieces.Length; i++)
                fixed (byte* p = pieces[i])
                    result[i] = Write(fd, p, (nuint)pieces[i].Length) < 0 ? LastErrno : Errno.None;
            return result;
        }
        finally
        {
            Close(fd);
        }
    }

    public static Errno WriteOnce(string path, string text) => WritePieces(path, Encoding.UTF8.GetBytes(text))[0];

    public static Errno WriteOnce(string path, byte[] bytes) => WritePieces(path, bytes)[0];

    /// <summary>Opens <paramref name="path"/> read-write (as an attacker re-opens <c>/proc/self/fd/N</c>); the errno, or None with the descriptor.</summary>
    public static Errno OpenReadWrite(string path, out FileDescriptorHandle? fd)
    {
        int n = Open(path, O_RDWR | O_CLOEXEC);
        fd = n < 0 ? null : new FileDescriptorHandle(n);
        return n < 0 ? LastErrno : Errno.None;
    }

    public static unsafe Errno WriteAt0(FileDescriptorHandle fd, ReadOnlySpan<byte> bytes)
    {
        fixed (byte* p = bytes)
            return Write(fd.Fd, p, (nuint)bytes.Length) < 0 ? LastErrno : Errno.None;
    }

    public static Errno Truncate(FileDescriptorHandle fd, long length) => Ftruncate(fd.Fd, length) < 0 ? LastErrno : Errno.None;
}
