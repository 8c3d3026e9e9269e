using System.Runtime.InteropServices;

namespace Umdev.Interop.Native;

internal static partial class Libc
{
    internal const uint MFD_ALLOW_SEALING = 0x2;

    // File status flags (an open's O_NONBLOCK).
    internal const int F_GETFL = 3;
    internal const int F_SETFL = 4;

    // F_LINUX_SPECIFIC_BASE (1024) + 9 and + 10.
    internal const int F_ADD_SEALS = 1033;
    internal const int F_GET_SEALS = 1034;

    /// <summary>fcntl(2) with an int argument (or none: the argument is ignored).</summary>
    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int Fcntl(int fd, int cmd, int arg);
}
