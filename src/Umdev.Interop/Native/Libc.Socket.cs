using System.Runtime.InteropServices;

namespace Umdev.Interop.Native;

internal static partial class Libc
{
    internal const int AF_UNIX = 1;
    internal const int SOCK_STREAM = 1;
    internal const int SOCK_CLOEXEC = 0x80000;
    internal const int SOL_SOCKET = 1;
    internal const int SCM_RIGHTS = 1;
    internal const int MSG_CTRUNC = 0x8;
    internal const int MSG_DONTWAIT = 0x40;
    internal const int MSG_NOSIGNAL = 0x4000;
    internal const int MSG_CMSG_CLOEXEC = 0x40000000;
    internal const int SHUT_RDWR = 2;
    internal const int SO_RCVTIMEO = 20;
    internal const int SunPathLength = 108;

    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct SockaddrUn
    {
        public ushort Family;
        public fixed byte Path[SunPathLength];
    }

    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>struct cmsghdr header size; data follows 8-byte aligned.</summary>
    internal const int CmsgHeaderSize = 16;

    internal static int CmsgSpace(int dataBytes) => CmsgHeaderSize + ((dataBytes + 7) & ~7);

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    internal static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "socketpair", SetLastError = true)]
    internal static unsafe partial int SocketPair(int domain, int type, int protocol, int* sv);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    internal static unsafe partial int Bind(int fd, SockaddrUn* addr, uint len);

    [LibraryImport("libc", EntryPoint = "connect", SetLastError = true)]
    internal static unsafe partial int Connect(int fd, SockaddrUn* addr, uint len);

    [LibraryImport("libc", EntryPoint = "listen", SetLastError = true)]
    internal static partial int Listen(int fd, int backlog);

    [LibraryImport("libc", EntryPoint = "accept4", SetLastError = true)]
    internal static unsafe partial int Accept4(int fd, void* addr, void* len, int flags);

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    internal static unsafe partial nint SendMsg(int fd, MsgHdr* msg, int flags);

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    internal static unsafe partial nint RecvMsg(int fd, MsgHdr* msg, int flags);

    /// <summary>struct timeval (SO_RCVTIMEO's value).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct TimeVal
    {
        public long Seconds;
        public long Microseconds;
    }

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    internal static unsafe partial int SetSockOpt(int fd, int level, int name, void* value, uint length);

    [LibraryImport("libc", EntryPoint = "shutdown", SetLastError = true)]
    internal static partial int Shutdown(int fd, int how);
}
