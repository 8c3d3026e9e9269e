using System.Buffers.Binary;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Umdev.Core;
using Umdev.Devices.Mtty;
using Umdev.Interop;
using Umdev.Sysfs.Fuse;

namespace Umdev.Sysfs.Tests;

/// <summary>
/// Requests the kernel never sends through a mount, given to the file system directly (found by
/// tools/fuzz): each gets an error reply, never an exception.
/// </summary>
public sealed class FuseRequestTests : IDisposable
{
    private readonly MdevCore _core = new();
    private readonly MdevParent _parent;
    private readonly SysfsTree _tree;
    private readonly SysfsFileSystem _fs;
    private readonly FuseReply _reply = new(FuseConst.RequestBufferSize);
    private ulong _unique;

    public FuseRequestTests()
    {
        _parent = Mtty.Register(_core, new MttyOptions(2));
        _tree = new SysfsTree(_core);
        _fs = new SysfsFileSystem(_tree, NullLogger.Instance);
    }

    public void Dispose()
    {
        _tree.Dispose();
        Mtty.Unregister(_core, _parent);
    }

    [Fact]
    public void ReadThroughAWriteOnlyHandleIsEbadf()
    {
        ulong fh = Open($"{MountedTree.ParentDir}/mdev_supported_types/mtty-1/create", FuseConst.OWrOnly);
        Assert.Equal(-(int)Errno.EBADF, Error(Send(FuseOpcode.Read, 1, [.. U64(fh), .. U64(0), .. U32(4096), .. new byte[20]])));
    }

    [Fact]
    public void WriteThroughAReadOnlyHandleIsEbadf()
    {
        ulong fh = Open($"{MountedTree.ParentDir}/mdev_supported_types/mtty-1/available_instances", FuseConst.ORdOnly);
        Assert.Equal(-(int)Errno.EBADF, Error(Send(FuseOpcode.Write, 1, [.. U64(fh), .. U64(0), .. U32(1), .. new byte[20], (byte)'1'])));
    }

    /// <summary>LOOKUP of each component, then OPEN with <paramref name="flags"/>; returns the handle.</summary>
    private ulong Open(string path, int flags)
    {
        ulong node = FuseConst.RootId;
        foreach (var name in path.Split('/'))
        {
            var entry = Send(FuseOpcode.Lookup, node, [.. Encoding.UTF8.GetBytes(name), 0]);
            Assert.Equal(0, Error(entry));
            node = BinaryPrimitives.ReadUInt64LittleEndian(entry.AsSpan(FuseConst.OutHeaderSize));
        }
        var open = Send(FuseOpcode.Open, node, [.. U32((uint)flags), .. U32(0)]);
        Assert.Equal(0, Error(open));
        return BinaryPrimitives.ReadUInt64LittleEndian(open.AsSpan(FuseConst.OutHeaderSize));
    }

    private byte[] Send(FuseOpcode opcode, ulong node, byte[] body)
    {
        var b = new byte[FuseConst.InHeaderSize + body.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)b.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), (uint)opcode);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), ++_unique);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(16), node);
        body.CopyTo(b.AsSpan(FuseConst.InHeaderSize));
        Assert.True(FuseRequest.TryParse(b, out var request));
        Assert.True(_fs.Handle(request, _reply));
        return _reply.Finish().ToArray();
    }

    private static int Error(byte[] reply) => BinaryPrimitives.ReadInt32LittleEndian(reply.AsSpan(4));

    private static byte[] U32(uint v) => BitConverter.GetBytes(v);

    private static byte[] U64(ulong v) => BitConverter.GetBytes(v);
}
