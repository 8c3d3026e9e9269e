using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Umdev.Interop.Native;

internal static partial class Libc
{
    internal const int FALLOC_FL_KEEP_SIZE = 0x01;
    internal const int FALLOC_FL_PUNCH_HOLE = 0x02;
    internal const int FALLOC_FL_ZERO_RANGE = 0x10;
    internal const int SEEK_END = 2;

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    internal static partial int FdataSync(SafeFileHandle fd);

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    internal static partial int Fallocate(SafeFileHandle fd, int mode, long offset, long length);

    internal const int IOV_MAX = 1024;

    [LibraryImport("libc", EntryPoint = "preadv", SetLastError = true)]
    internal static unsafe partial nint Preadv(SafeFileHandle fd, IoVec* iov, int count, long offset);

    [LibraryImport("libc", EntryPoint = "pwritev", SetLastError = true)]
    internal static unsafe partial nint Pwritev(SafeFileHandle fd, IoVec* iov, int count, long offset);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    internal static partial long Lseek(SafeFileHandle fd, long offset, int whence);
}
