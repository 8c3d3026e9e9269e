using System.Runtime.InteropServices;

namespace Umdev.Interop.Native;

internal static partial class Libc
{
    /// <summary>openat2(2) has no glibc wrapper; its x86-64 system call number.</summary>
    internal const long SYS_openat2 = 437;

    internal const int O_PATH = 0x200000;
    internal const int O_NOFOLLOW = 0x20000;
    internal const int O_NOCTTY = 0x100;

    internal const ulong RESOLVE_NO_XDEV = 0x01;
    internal const ulong RESOLVE_NO_MAGICLINKS = 0x02;
    internal const ulong RESOLVE_NO_SYMLINKS = 0x04;
    internal const ulong RESOLVE_BENEATH = 0x08;

    /// <summary>struct open_how.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial long SyscallOpenAt2(long number, int dirFd, string path, OpenHow* how, nuint size);

    internal static unsafe int OpenAt2(int dirFd, string path, in OpenHow how)
    {
        fixed (OpenHow* h = &how) return (int)SyscallOpenAt2(SYS_openat2, dirFd, path, h, (nuint)sizeof(OpenHow));
    }
}
