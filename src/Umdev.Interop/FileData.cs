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

    /// <summary>Whether any permission bit lets someone write the file (root may open it anyway; this is what its owner meant).</summary>
    public static unsafe bool HasWritePermission(SafeFileHandle file)
    {
        byte* st = stackalloc byte[Libc.StatSize];
        if (Libc.FstatFile(file, st) != 0) ThrowHelper.ThrowLastError("fstat");
        return (*(uint*)(st + Libc.StatModeOffset) & 0x92) != 0; // S_IWUSR | S_IWGRP | S_IWOTH
    }

    private static void Fallocate(SafeFileHandle file, int mode, long offset, long length)
    {
        if (Libc.Fallocate(file, mode, offset, length) != 0) ThrowHelper.ThrowLastError("fallocate");
    }
}
