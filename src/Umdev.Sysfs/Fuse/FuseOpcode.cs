namespace Umdev.Sysfs.Fuse;

/// <summary>FUSE request opcodes (include/uapi/linux/fuse.h).</summary>
internal enum FuseOpcode : uint
{
    Lookup = 1,
    Forget = 2,
    GetAttr = 3,
    SetAttr = 4,
    ReadLink = 5,
    Symlink = 6,
    Mknod = 8,
    Mkdir = 9,
    Unlink = 10,
    Rmdir = 11,
    Rename = 12,
    Link = 13,
    Open = 14,
    Read = 15,
    Write = 16,
    StatFs = 17,
    Release = 18,
    Fsync = 20,
    SetXattr = 21,
    GetXattr = 22,
    ListXattr = 23,
    RemoveXattr = 24,
    Flush = 25,
    Init = 26,
    OpenDir = 27,
    ReadDir = 28,
    ReleaseDir = 29,
    FsyncDir = 30,
    Access = 34,
    Create = 35,
    Interrupt = 36,
    Destroy = 38,
    BatchForget = 42,
    Rename2 = 45,
    TmpFile = 51,
}

/// <summary>Protocol constants: versions, INIT flags, open flags, setattr bits, sizes.</summary>
internal static class FuseConst
{
    public const uint KernelVersion = 7;
    /// <summary>The protocol minor we speak: 7.31 (fuse_attr with flags, 64-byte init_out).</summary>
    public const uint MinorVersion = 31;
    public const ulong RootId = 1;

    public const int InHeaderSize = 40;
    public const int OutHeaderSize = 16;
    public const int AttrSize = 88;
    public const int EntryOutSize = 40 + AttrSize;
    public const int AttrOutSize = 16 + AttrSize;
    public const int InitOutSize = 64;
    public const int WriteInSize = 40;

    public const uint AsyncRead = 1u << 0;
    public const uint AtomicOTrunc = 1u << 3;
    public const uint BigWrites = 1u << 5;
    public const uint ParallelDirops = 1u << 18;

    public const uint FopenDirectIo = 1u << 0;

    public const uint FattrMode = 1u << 0;
    public const uint FattrUid = 1u << 1;
    public const uint FattrGid = 1u << 2;

    public const int MaxWrite = 64 * 1024;
    /// <summary>A request buffer: the largest write plus its headers, rounded up as libfuse does.</summary>
    public const int RequestBufferSize = MaxWrite + 4096;

    public const uint DtDir = 4;
    public const uint DtReg = 8;
    public const uint DtLnk = 10;

    public const uint SIfDir = 0x4000;
    public const uint SIfReg = 0x8000;
    public const uint SIfLnk = 0xA000;

    public const int OAccMode = 3;
    public const int ORdOnly = 0;
    public const int OWrOnly = 1;
}
