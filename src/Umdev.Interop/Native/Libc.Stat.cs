using System.Runtime.InteropServices;

namespace Umdev.Interop.Native;

internal static partial class Libc
{
    /// <summary>sizeof(struct stat) on x86-64 and the offsets umdev reads.</summary>
    internal const int StatSize = 144;
    internal const int StatModeOffset = 24;
    internal const int StatSizeOffset = 48;
    internal const uint S_IFMT = 0xF000;
    internal const uint S_IFREG = 0x8000;
    internal const uint S_IFBLK = 0x6000;
    internal const uint S_IFDIR = 0x4000;

    [LibraryImport("libc", EntryPoint = "fstat", SetLastError = true)]
    internal static unsafe partial int Fstat(int fd, byte* buf);
}
