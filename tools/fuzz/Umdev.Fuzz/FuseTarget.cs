using System.Buffers.Binary;
using System.Text;
using Umdev.Core;
using Umdev.Devices.Mtty;
using Umdev.Sysfs;
using Umdev.Sysfs.Fuse;

using static Umdev.Fuzz.SeedBytes;

namespace Umdev.Fuzz;

/// <summary>
/// The FUSE request parser and the sysfs file system behind it, without /dev/fuse: the input is a
/// sequence of requests as the kernel writes them (each fuse_in_header's len frames it), answered one
/// after another by a fresh tree of an mtty parent. What a malformed frame leaves is parsed too and
/// must be refused. Expected: error replies. A failure: any exception escaping the file system, any
/// fault it only logs (SysfsFileSystem turns one into EIO), or a reply that is not framed for its request.
/// </summary>
public sealed class FuseTarget : IFuzzTarget
{
    private const int MaxRequests = 256;
    private readonly FailingLogger _logger = new();

    public void Run(byte[] input)
    {
        var core = new MdevCore();
        var parent = Mtty.Register(core, new MttyOptions(2));
        using var tree = new SysfsTree(core);
        var fs = new SysfsFileSystem(tree, _logger);
        var reply = new FuseReply(FuseConst.RequestBufferSize);
        try
        {
            var rest = input.AsSpan();
            for (int n = 0; n < MaxRequests && !rest.IsEmpty; n++)
            {
                uint len = rest.Length >= 4 ? BinaryPrimitives.ReadUInt32LittleEndian(rest) : 0;
                bool framed = len >= FuseConst.InHeaderSize && len <= (uint)rest.Length;
                if (!FuseRequest.TryParse(rest, out var request))
                {
                    if (framed) throw new FuzzFailure($"a framed request of {len} bytes was refused");
                    return; // the kernel never sends this; the session logs and drops it
                }
                if (!framed) throw new FuzzFailure($"a request of {len} bytes was accepted from {rest.Length}");
                ulong unique = request.Unique;
                if (fs.Handle(request, reply))
                {
                    var r = reply.Finish();
                    if (r.Length < FuseConst.OutHeaderSize || BinaryPrimitives.ReadUInt32LittleEndian(r) != (uint)r.Length ||
                        BinaryPrimitives.ReadUInt64LittleEndian(r[8..]) != unique)
                        throw new FuzzFailure($"reply of {r.Length} bytes is not framed for request {unique}");
                    int error = BinaryPrimitives.ReadInt32LittleEndian(r[4..]);
                    if (error > 0 || (error < 0 && r.Length != FuseConst.OutHeaderSize))
                        throw new FuzzFailure($"reply error {error} with {r.Length} bytes");
                }
                rest = rest[(int)len..];
            }
        }
        finally
        {
            foreach (var d in core.Devices.ToArray())
            {
                try { core.Remove(d); } catch (Interop.ErrnoException) { }
            }
            Mtty.Unregister(core, parent);
        }
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        var core = new MdevCore();
        Mtty.Register(core, new MttyOptions(2));
        using var tree = new SysfsTree(core);
        string typeDir = Find(tree.Root, e => e.Path.EndsWith("/mdev_supported_types", StringComparison.Ordinal))!.Path;
        string create = Find(tree.Root, e => e is SysfsFile && e.Path.StartsWith(typeDir, StringComparison.Ordinal) && e.Name == "create")!.Path;
        string available = SysfsPath.Combine(SysfsPath.Parent(create), "available_instances");
        const string Uuid = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001";
        string device = SysfsPath.Combine(SysfsPath.Parent(typeDir), Uuid);

        yield return ("init", Init());
        yield return ("lookup-getattr", [.. Init(), .. Lookups(available), .. Req(FuseOpcode.GetAttr, FuseInodes.IdOf(available), new byte[16])]);
        yield return ("read", [.. Lookups(available), .. Req(FuseOpcode.Open, FuseInodes.IdOf(available), U32s(0, 0)),
            .. Req(FuseOpcode.Read, FuseInodes.IdOf(available), ReadIn(1, 0, 4096)), .. Req(FuseOpcode.Release, FuseInodes.IdOf(available), ReadIn(1, 0, 0))]);
        var uuid = Encoding.ASCII.GetBytes(Uuid + "\n");
        yield return ("write-create", [.. Lookups(create), .. Req(FuseOpcode.Open, FuseInodes.IdOf(create), U32s(1, 0)),
            .. Req(FuseOpcode.Write, FuseInodes.IdOf(create), [.. WriteIn(1, (uint)uuid.Length), .. uuid]), .. Lookups(device),
            .. Req(FuseOpcode.OpenDir, FuseInodes.IdOf(device), U32s(0, 0)), .. Req(FuseOpcode.ReadDir, FuseInodes.IdOf(device), ReadIn(2, 0, 4096))]);
        yield return ("readdir-root", [.. Req(FuseOpcode.OpenDir, 1, U32s(0, 0)), .. Req(FuseOpcode.ReadDir, 1, ReadIn(1, 0, 4096)),
            .. Req(FuseOpcode.ReleaseDir, 1, ReadIn(1, 0, 0))]);
        yield return ("forget", [.. Lookups(available), .. Req(FuseOpcode.Forget, FuseInodes.IdOf(available), U64s(1)),
            .. Req(FuseOpcode.BatchForget, 0, [.. U32s(1, 0), .. U64s(FuseInodes.IdOf(typeDir), 1)])]);
        yield return ("misc", [.. Req(FuseOpcode.StatFs, 1, []), .. Req(FuseOpcode.SetAttr, 1, U32s(1, 0)), .. Req(FuseOpcode.ListXattr, 1, U32s(0, 0)),
            .. Req(FuseOpcode.Mkdir, 1, [.. U32s(0x1ed, 0), .. "x\0"u8])]);
    }

    private static SysfsEntry? Find(SysfsDirectory dir, Func<SysfsEntry, bool> match)
    {
        foreach (var child in dir.Children)
        {
            if (match(child)) return child;
            if (child is SysfsDirectory sub && Find(sub, match) is { } found) return found;
        }
        return null;
    }

    private static ulong _unique = 1;

    /// <summary>fuse_in_header (len, opcode, unique, nodeid, uid, gid, pid, padding) and the body.</summary>
    private static byte[] Req(FuseOpcode op, ulong node, ReadOnlySpan<byte> body)
    {
        var b = new byte[FuseConst.InHeaderSize + body.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)b.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), (uint)op);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), _unique++);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(16), node);
        body.CopyTo(b.AsSpan(FuseConst.InHeaderSize));
        return b;
    }

    private static byte[] Init() => Req(FuseOpcode.Init, 0, U32s(7, 31, 0x20000, 0x1 | 0x8 | 0x20));

    /// <summary>LOOKUP of every component of <paramref name="path"/>, each in the directory before it.</summary>
    private static byte[] Lookups(string path)
    {
        var all = new List<byte>();
        string dir = "";
        foreach (var name in path.Split('/'))
        {
            all.AddRange(Req(FuseOpcode.Lookup, FuseInodes.IdOf(dir), [.. Encoding.UTF8.GetBytes(name), 0]));
            dir = SysfsPath.Combine(dir, name);
        }
        return [.. all];
    }

    private static byte[] ReadIn(ulong fh, ulong offset, uint size) => [.. U64s(fh, offset), .. U32s(size, 0, 0, 0, 0, 0)];

    private static byte[] WriteIn(ulong fh, uint size) => [.. U64s(fh, 0), .. U32s(size, 0), .. U64s(0), .. U32s(0, 0)];
}
