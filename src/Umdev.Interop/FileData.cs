using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Umdev.Interop.Native;

namespace Umdev.Interop;

/// <summary>
/// What a block device's backing file needs beyond .NET's <see cref="RandomAccess"/>: durability
/// (<c>fdatasync</c>), freeing and zeroing ranges (<c>fallocate</c>) and the size of a block device
/// (whose <c>st_size</c> is 0). Failures are <see cref="ErrnoException"/>s.
/// </summary>
public static class FileData
{
    /// <summary><c>fdatasync</c>: the file's data (and the metadata needed to read it) reach stable storage.</summary>
    public static void DataSync(SafeFileHandle file)
    {
        if (Libc.FdataSync(file) != 0) ThrowHelper.ThrowLastError("fdatasync");
    }

    /// <summary>Deallocates [offset, offset+length): reads of it return zeros afterwards; the size is kept.</summary>
    public static void PunchHole(SafeFileHandle file, long offset, long length) =>
        Fallocate(file, Libc.FALLOC_FL_PUNCH_HOLE | Libc.FALLOC_FL_KEEP_SIZE, offset, length);

    /// <summary>Zeroes [offset, offset+length) without writing data blocks where the file system can.</summary>
    public static void ZeroRange(SafeFileHandle file, long offset, long length) =>
        Fallocate(file, Libc.FALLOC_FL_ZERO_RANGE | Libc.FALLOC_FL_KEEP_SIZE, offset, length);

    /// <summary>The size in bytes of a regular file or a block device (<c>lseek(fd, 0, SEEK_END)</c>).</summary>
    public static long Size(SafeFileHandle file)
    {
        long size = Libc.Lseek(file, 0, Libc.SEEK_END);
        if (size < 0) ThrowHelper.ThrowLastError("lseek");
        return size;
    }

    /// <summary>
    /// <c>preadv</c>/<c>pwritev</c> at <paramref name="offset"/> between the file and buffers at the given
    /// addresses (memory the caller keeps mapped for the call), repeated until all is moved. A read past
    /// the end of the file leaves zeros. At most 1024 buffers; EIO-style failures are ErrnoExceptions.
    /// </summary>
    public static unsafe void TransferVector(SafeFileHandle file, ReadOnlySpan<nint> buffers, ReadOnlySpan<int> lengths, long offset, bool write)
    {
        if (buffers.Length > Libc.IOV_MAX || lengths.Length != buffers.Length) ThrowHelper.Throw(Errno.EINVAL, "bad buffer list");
        Libc.IoVec* iov = stackalloc Libc.IoVec[buffers.Length];
        for (int i = 0; i < buffers.Length; i++) iov[i] = new Libc.IoVec { Base = (void*)buffers[i], Length = (nuint)lengths[i] };
        int at = 0;
        while (at < buffers.Length)
        {
            nint n = write ? Libc.Pwritev(file, iov + at, buffers.Length - at, offset) : Libc.Preadv(file, iov + at, buffers.Length - at, offset);
            if (n < 0)
            {
                if (Marshal.GetLastPInvokeError() == (int)Errno.EINTR) continue;
                ThrowHelper.ThrowLastError(write ? "pwritev" : "preadv");
            }
            if (n == 0)
            {
                if (write) ThrowHelper.Throw(Errno.EIO, "pwritev wrote nothing");
                for (; at < buffers.Length; at++) new Span<byte>(iov[at].Base, (int)iov[at].Length).Clear(); // past the end: zeros
                return;
            }
            offset += n;
            while (at < buffers.Length && n >= (nint)iov[at].Length) n -= (nint)iov[at++].Length;
            if (at < buffers.Length)
            {
                iov[at].Base = (byte*)iov[at].Base + n;
                iov[at].Length -= (nuint)n;
            }
        }
    }

    private static void Fallocate(SafeFileHandle file, int mode, long offset, long length)
    {
        if (Libc.Fallocate(file, mode, offset, length) != 0) ThrowHelper.ThrowLastError("fallocate");
    }
}
