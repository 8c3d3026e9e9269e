using System.Runtime.InteropServices;

namespace Umdev.Interop.Native;

internal static partial class Libc
{
    /// <summary>struct statfs is 120 bytes on x86-64; f_type is its first field (a long).</summary>
    internal const int StatFsSize = 120;
    internal const long FUSE_SUPER_MAGIC = 0x65735546;

    [LibraryImport("libc", EntryPoint = "fstatfs", SetLastError = true)]
    internal static unsafe partial int Fstatfs(int fd, byte* buf);
}
