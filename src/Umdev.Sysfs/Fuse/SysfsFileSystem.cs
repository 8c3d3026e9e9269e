using System.Buffers.Binary;
using System.Text;
using Microsoft.Extensions.Logging;
using Umdev.Core;
using Umdev.Interop;

namespace Umdev.Sysfs.Fuse;

/// <summary>
/// Answers FUSE requests from the <see cref="SysfsTree"/>, with sysfs's semantics: attributes call show
/// on read and store inside the write(2), entries and attributes are never cached, and the namespace
/// cannot be changed (creating → EACCES, mkdir/unlink/rename/link/symlink/mknod/chmod → EPERM).
/// </summary>
internal sealed class SysfsFileSystem
{
    /// <summary>sysfs attributes are one page: show output is cut there, a store sees at most that much.</summary>
    public const int PageSize = 4096;

    private readonly SysfsTree _tree;
    private readonly ILogger _logger;
    private readonly FuseInodes _inodes = new();
    private readonly FuseHandles _handles = new();
    private readonly ulong _time = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public SysfsFileSystem(SysfsTree tree, ILogger logger)
    {
        _tree = tree;
        _logger = logger;
    }

    public int KnownNodes => _inodes.Count;

    /// <summary>Handles one request; false if it needs no reply (FORGET, INTERRUPT).</summary>
    public bool Handle(in FuseRequest request, FuseReply reply)
    {
        try
        {
            int errno = Dispatch(request, reply);
            if (errno < 0) return false;
            if (errno > 0) reply.Error(request.Unique, errno);
            return true;
        }
        catch (ErrnoException e)
        {
            reply.Error(request.Unique, (int)e.Errno);
            return true;
        }
        catch (Exception e)
        {
            _logger.LogError(SysfsLogEvents.RequestFailed, e, "FUSE {Opcode} failed", request.Opcode);
            reply.Error(request.Unique, (int)Errno.EIO);
            return true;
        }
    }

    // Returns 0 when the reply is built, a positive errno for an error reply, -1 for no reply.
    private int Dispatch(in FuseRequest r, FuseReply reply)
    {
        switch (r.Opcode)
        {
            case FuseOpcode.Init: return Init(r, reply);
            case FuseOpcode.Lookup: return Lookup(r, reply);
            case FuseOpcode.Forget:
                if (r.TryU64(0, out ulong n)) _inodes.Forget(r.NodeId, n);
                return -1;
            case FuseOpcode.BatchForget: BatchForget(r); return -1;
            case FuseOpcode.Interrupt: return -1; // stores run to completion, as sysfs's do
            case FuseOpcode.GetAttr: return GetAttr(r, reply);
            case FuseOpcode.SetAttr: return SetAttr(r, reply);
            case FuseOpcode.ReadLink: return ReadLink(r, reply);
            case FuseOpcode.Open: return Open(r, reply);
            case FuseOpcode.Read: return Read(r, reply);
            case FuseOpcode.Write: return Write(r, reply);
            case FuseOpcode.Release or FuseOpcode.ReleaseDir:
                if (r.TryU64(0, out ulong fh)) _handles.Remove(fh);
                reply.Begin(r.Unique);
                return 0;
            case FuseOpcode.Flush or FuseOpcode.Fsync or FuseOpcode.FsyncDir or FuseOpcode.Destroy:
                reply.Begin(r.Unique);
                return 0;
            case FuseOpcode.OpenDir: return OpenDir(r, reply);
            case FuseOpcode.ReadDir: return ReadDir(r, reply);
            case FuseOpcode.StatFs: return StatFs(r, reply);
            case FuseOpcode.GetXattr: return (int)Errno.ENODATA;
            case FuseOpcode.ListXattr: return ListXattr(r, reply);
            case FuseOpcode.SetXattr or FuseOpcode.RemoveXattr: return (int)Errno.EOPNOTSUPP;
            // No create op in a sysfs directory: the VFS answers EACCES (lookup_open).
            case FuseOpcode.Create: return (int)Errno.EACCES;
            // kernfs has no mknod/unlink/link/symlink and refuses mkdir/rmdir/rename without syscall ops.
            case FuseOpcode.Mknod or FuseOpcode.Mkdir or FuseOpcode.Unlink or FuseOpcode.Rmdir or FuseOpcode.Rename
                or FuseOpcode.Rename2 or FuseOpcode.Link or FuseOpcode.Symlink or FuseOpcode.TmpFile:
                return (int)Errno.EPERM;
            default: return (int)Errno.ENOSYS;
        }
    }

    private int Init(in FuseRequest r, FuseReply reply)
    {
        if (!r.TryU32(0, out uint major) || !r.TryU32(8, out uint readahead) || !r.TryU32(12, out uint flags))
            return (int)Errno.EINVAL;
        reply.Begin(r.Unique);
        var o = reply.Append(FuseConst.InitOutSize);
        BinaryPrimitives.WriteUInt32LittleEndian(o, FuseConst.KernelVersion);
        if (major > FuseConst.KernelVersion) return 0; // the kernel retries with our major
        if (major < FuseConst.KernelVersion) return (int)Errno.EPROTO;
        BinaryPrimitives.WriteUInt32LittleEndian(o[4..], FuseConst.MinorVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(o[8..], readahead);
        uint wanted = FuseConst.AsyncRead | FuseConst.AtomicOTrunc | FuseConst.BigWrites | FuseConst.ParallelDirops;
        BinaryPrimitives.WriteUInt32LittleEndian(o[12..], flags & wanted);
        BinaryPrimitives.WriteUInt16LittleEndian(o[16..], 64);  // max_background
        BinaryPrimitives.WriteUInt16LittleEndian(o[18..], 48);  // congestion_threshold
        BinaryPrimitives.WriteUInt32LittleEndian(o[20..], FuseConst.MaxWrite);
        BinaryPrimitives.WriteUInt32LittleEndian(o[24..], 1);   // time_gran
        return 0;
    }

    private int Lookup(in FuseRequest r, FuseReply reply)
    {
        string? dir = _inodes.PathOf(r.NodeId);
        string? name = r.Name();
        if (dir is null || name is null) return (int)Errno.ENOENT;
        if (_tree.Resolve(dir) is not SysfsDirectory parent) return (int)Errno.ENOTDIR;
        if (parent.Lookup(name) is not { } entry) return (int)Errno.ENOENT; // an error reply is never cached
        if (!_inodes.Remember(entry.Path, out ulong id))
        {
            _logger.LogError(SysfsLogEvents.NodeIdCollision, "node id collision for {Path}", entry.Path);
            return (int)Errno.EIO;
        }
        reply.Begin(r.Unique);
        var o = reply.Append(FuseConst.EntryOutSize);
        BinaryPrimitives.WriteUInt64LittleEndian(o, id);
        // entry_valid and attr_valid stay 0: every access asks again, so nothing shown can be stale.
        FillAttr(o[40..], id, entry);
        return 0;
    }

    private void BatchForget(in FuseRequest r)
    {
        if (!r.TryU32(0, out uint count)) return;
        for (int i = 0; i < (int)Math.Min(count, (uint)(r.Body.Length / 16)); i++)
        {
            if (r.TryU64(8 + i * 16, out ulong id) && r.TryU64(16 + i * 16, out ulong n)) _inodes.Forget(id, n);
        }
    }

    private SysfsEntry? Node(in FuseRequest r) => _inodes.PathOf(r.NodeId) is { } path ? _tree.Resolve(path) : null;

    private int GetAttr(in FuseRequest r, FuseReply reply)
    {
        if (Node(r) is not { } entry) return (int)Errno.ENOENT;
        return AttrReply(r, reply, entry);
    }

    private int AttrReply(in FuseRequest r, FuseReply reply, SysfsEntry entry)
    {
        reply.Begin(r.Unique);
        FillAttr(reply.Append(FuseConst.AttrOutSize)[16..], r.NodeId, entry);
        return 0;
    }

    private int SetAttr(in FuseRequest r, FuseReply reply)
    {
        if (Node(r) is not { } entry) return (int)Errno.ENOENT;
        if (!r.TryU32(0, out uint valid)) return (int)Errno.EINVAL;
        // The tree is computed, so there is nowhere to keep a new mode or owner (real sysfs lets root chmod).
        if ((valid & (FuseConst.FattrMode | FuseConst.FattrUid | FuseConst.FattrGid)) != 0) return (int)Errno.EPERM;
        // Size (O_TRUNC, truncate) and times are accepted and ignored, as kernfs ignores them.
        return AttrReply(r, reply, entry);
    }

    private void FillAttr(Span<byte> a, ulong id, SysfsEntry entry)
    {
        (uint mode, ulong size, uint nlink) = entry switch
        {
            SysfsFile f => (FuseConst.SIfReg | (uint)f.Attribute.Mode, (ulong)PageSize, 1u),
            SysfsLink => (FuseConst.SIfLnk | 0x1FF, 0ul, 1u),
            SysfsDirectory d => (FuseConst.SIfDir | 0x1ED, 0ul, 2u + (uint)d.SubdirectoryCount),
            _ => (0u, 0ul, 1u),
        };
        BinaryPrimitives.WriteUInt64LittleEndian(a, id);
        BinaryPrimitives.WriteUInt64LittleEndian(a[8..], size);
        BinaryPrimitives.WriteUInt64LittleEndian(a[24..], _time);
        BinaryPrimitives.WriteUInt64LittleEndian(a[32..], _time);
        BinaryPrimitives.WriteUInt64LittleEndian(a[40..], _time);
        BinaryPrimitives.WriteUInt32LittleEndian(a[60..], mode);
        BinaryPrimitives.WriteUInt32LittleEndian(a[64..], nlink);
        BinaryPrimitives.WriteUInt32LittleEndian(a[80..], PageSize); // blksize
    }

    private int ReadLink(in FuseRequest r, FuseReply reply)
    {
        if (Node(r) is not SysfsLink link) return (int)Errno.EINVAL;
        reply.Begin(r.Unique);
        Encoding.UTF8.GetBytes(link.Target, reply.Append(Encoding.UTF8.GetByteCount(link.Target)));
        return 0;
    }

    private int Open(in FuseRequest r, FuseReply reply)
    {
        if (!r.TryU32(0, out uint flags)) return (int)Errno.EINVAL;
        var entry = Node(r);
        if (entry is SysfsDirectory) return (int)Errno.EISDIR;
        if (entry is not SysfsFile file) return (int)Errno.ENOENT;
        // kernfs_fop_open: reading needs a show and a read bit, writing a store and a write bit — even for root.
        int access = (int)flags & FuseConst.OAccMode;
        var mode = file.Attribute.Mode;
        bool canRead = file.Attribute.Show is not null && (mode & MdevAttribute.ReadOnly) != 0;
        bool canWrite = file.Attribute.Store is not null &&
            (mode & (UnixFileMode.UserWrite | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0;
        if ((access != FuseConst.OWrOnly && !canRead) || (access != FuseConst.ORdOnly && !canWrite)) return (int)Errno.EACCES;
        if (!file.IsAlive) return (int)Errno.ENODEV;
        ulong fh = _handles.Add(new OpenFile(file));
        reply.Begin(r.Unique);
        var o = reply.Append(16);
        BinaryPrimitives.WriteUInt64LittleEndian(o, fh);
        // direct_io: every read(2) reaches us, so show runs for each new read from the start.
        BinaryPrimitives.WriteUInt32LittleEndian(o[8..], FuseConst.FopenDirectIo);
        return 0;
    }

    private int Read(in FuseRequest r, FuseReply reply)
    {
        if (!r.TryU64(0, out ulong fh) || !r.TryU64(8, out ulong offset) || !r.TryU32(16, out uint size)) return (int)Errno.EINVAL;
        if (_handles.Get<OpenFile>(fh) is not { } open) return (int)Errno.EBADF;
        if (!open.File.IsAlive) return (int)Errno.ENODEV;
        // Only a request the kernel never sends (READ on a handle opened write-only) reaches an attribute without show.
        if (open.File.Attribute.Show is not { } show) return (int)Errno.EBADF;
        byte[] content;
        lock (open.Lock)
        {
            // As seq_file: reading from the start calls show again; later offsets continue the same text.
            if (offset == 0 || open.Content is null)
            {
                string text = show();
                byte[] bytes = Encoding.UTF8.GetBytes(text);
                open.Content = bytes.Length > PageSize ? bytes[..PageSize] : bytes;
            }
            content = open.Content;
        }
        int start = (int)Math.Min(offset, (ulong)content.Length);
        int count = (int)Math.Min(Math.Min(size, (uint)(content.Length - start)), (uint)reply.Remaining);
        reply.Begin(r.Unique);
        content.AsSpan(start, count).CopyTo(reply.Append(count));
        return 0;
    }

    private int Write(in FuseRequest r, FuseReply reply)
    {
        if (!r.TryU64(0, out ulong fh) || !r.TryU32(16, out uint size)) return (int)Errno.EINVAL;
        if (r.Body.Length < FuseConst.WriteInSize || (uint)(r.Body.Length - FuseConst.WriteInSize) < size) return (int)Errno.EINVAL;
        if (_handles.Get<OpenFile>(fh) is not { } open) return (int)Errno.EBADF;
        if (!open.File.IsAlive) return (int)Errno.ENODEV;
        if (open.File.Attribute.Store is not { } store) return (int)Errno.EBADF; // WRITE on a handle opened read-only
        // kernfs hands the store at most one page and reports that much written.
        int count = (int)Math.Min(size, (uint)PageSize);
        if (count > 0) store(r.Body.Slice(FuseConst.WriteInSize, count));
        reply.Begin(r.Unique);
        BinaryPrimitives.WriteUInt32LittleEndian(reply.Append(8), (uint)count);
        return 0;
    }

    private int OpenDir(in FuseRequest r, FuseReply reply)
    {
        string? path = _inodes.PathOf(r.NodeId);
        if (path is null || _tree.Resolve(path) is not { } entry) return (int)Errno.ENOENT;
        if (entry is not SysfsDirectory dir) return (int)Errno.ENOTDIR;
        var entries = new List<(string, ulong, uint)>
        {
            (".", FuseInodes.IdOf(path), FuseConst.DtDir),
            ("..", FuseInodes.IdOf(SysfsPath.Parent(path)), FuseConst.DtDir),
        };
        foreach (var child in dir.Children)
        {
            uint type = child switch { SysfsDirectory => FuseConst.DtDir, SysfsLink => FuseConst.DtLnk, _ => FuseConst.DtReg };
            entries.Add((child.Name, FuseInodes.IdOf(child.Path), type));
        }
        ulong fh = _handles.Add(new OpenDir(entries));
        reply.Begin(r.Unique);
        BinaryPrimitives.WriteUInt64LittleEndian(reply.Append(16), fh);
        return 0;
    }

    private int ReadDir(in FuseRequest r, FuseReply reply)
    {
        if (!r.TryU64(0, out ulong fh) || !r.TryU64(8, out ulong offset) || !r.TryU32(16, out uint size)) return (int)Errno.EINVAL;
        if (_handles.Get<OpenDir>(fh) is not { } open) return (int)Errno.EBADF;
        reply.Begin(r.Unique);
        int budget = (int)Math.Min(size, (uint)reply.Remaining);
        for (ulong i = offset; i < (ulong)open.Entries.Count; i++)
        {
            var (name, ino, type) = open.Entries[(int)i];
            int nameLength = Encoding.UTF8.GetByteCount(name);
            int entrySize = (24 + nameLength + 7) & ~7;
            if (entrySize > budget) break;
            budget -= entrySize;
            var d = reply.Append(entrySize);
            BinaryPrimitives.WriteUInt64LittleEndian(d, ino);
            BinaryPrimitives.WriteUInt64LittleEndian(d[8..], i + 1); // offset of the next entry
            BinaryPrimitives.WriteUInt32LittleEndian(d[16..], (uint)nameLength);
            BinaryPrimitives.WriteUInt32LittleEndian(d[20..], type);
            Encoding.UTF8.GetBytes(name, d[24..]);
        }
        return 0;
    }

    private static int StatFs(in FuseRequest r, FuseReply reply)
    {
        reply.Begin(r.Unique);
        var s = reply.Append(80);
        BinaryPrimitives.WriteUInt32LittleEndian(s[40..], PageSize); // bsize
        BinaryPrimitives.WriteUInt32LittleEndian(s[44..], 255);      // namelen
        BinaryPrimitives.WriteUInt32LittleEndian(s[48..], PageSize); // frsize
        return 0;
    }

    private static int ListXattr(in FuseRequest r, FuseReply reply)
    {
        if (!r.TryU32(0, out uint size)) return (int)Errno.EINVAL;
        reply.Begin(r.Unique);
        if (size == 0) reply.Append(8); // fuse_getxattr_out { size = 0 }: no attributes
        return 0;
    }
}
