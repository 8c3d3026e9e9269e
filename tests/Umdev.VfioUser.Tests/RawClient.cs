using System.Buffers.Binary;
using System.Text;
using Umdev.Interop;
using Umdev.VfioUser.Protocol;

namespace Umdev.VfioUser.Tests;

/// <summary>Speaks vfio-user as raw bytes on a real socket, for tests that must send what no client would.</summary>
public sealed class RawClient(UnixSocket socket) : IDisposable
{
    public const string QemuCaps = "{\"capabilities\": {\"migration\": {\"pgsize\": 4096, \"max_bitmap_size\": 268435456}, \"max_msg_fds\": 16, \"max_data_xfer_size\": 1048576, \"pgsizes\": 4096, \"max_dma_maps\": 65535, \"write_multiple\": true}}";

    public UnixSocket Socket => socket;
    private ushort _id;

    public static byte[] Message(ushort id, ushort command, ReadOnlySpan<byte> payload, uint flags = 0, uint? size = null)
    {
        var m = new byte[16 + payload.Length];
        new VfioUserHeader(id, command, size ?? (uint)m.Length, (VfioUserFlags)flags, 0).Write(m);
        payload.CopyTo(m.AsSpan(16));
        return m;
    }

    public static byte[] VersionPayload(ushort major = 0, ushort minor = 0, string? json = QemuCaps, bool nul = true)
    {
        var j = json is null ? [] : Encoding.UTF8.GetBytes(json);
        var p = new byte[4 + j.Length + (json is not null && nul ? 1 : 0)];
        BinaryPrimitives.WriteUInt16LittleEndian(p, major);
        BinaryPrimitives.WriteUInt16LittleEndian(p.AsSpan(2), minor);
        j.CopyTo(p.AsSpan(4));
        return p;
    }

    public static byte[] RegionAccess(ulong offset, uint region, uint count, ReadOnlySpan<byte> data = default)
    {
        var p = new byte[16 + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(p, offset);
        BinaryPrimitives.WriteUInt32LittleEndian(p.AsSpan(8), region);
        BinaryPrimitives.WriteUInt32LittleEndian(p.AsSpan(12), count);
        data.CopyTo(p.AsSpan(16));
        return p;
    }

    public static byte[] U32s(params uint[] values)
    {
        var p = new byte[4 * values.Length];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt32LittleEndian(p.AsSpan(4 * i), values[i]);
        return p;
    }

    public void Send(byte[] bytes, params FileDescriptorHandle[] fds) => socket.Send(bytes, fds);

    public ushort NextId() => ++_id;

    /// <summary>Sends a command and returns its reply.</summary>
    public Reply Call(VfioUserCommand command, byte[] payload, params FileDescriptorHandle[] fds)
    {
        ushort id = NextId();
        Send(Message(id, (ushort)command, payload), fds);
        var r = Receive() ?? throw new InvalidOperationException("connection closed");
        Assert.Equal(id, r.Header.Id);
        Assert.Equal((ushort)command, r.Header.Command);
        Assert.True(r.Header.IsReply);
        return r;
    }

    public Reply Negotiate()
    {
        var r = Call(VfioUserCommand.Version, VersionPayload());
        Assert.False(r.Header.IsError);
        return r;
    }

    /// <summary>Reads one whole message (null at end of stream), with whatever descriptors came along.</summary>
    public Reply? Receive(int timeoutMs = 30000)
    {
        var head = new byte[16];
        var fds = new List<FileDescriptorHandle>();
        if (!ReadExactly(head, fds, timeoutMs)) return null;
        var h = VfioUserHeader.Read(head);
        Assert.InRange(h.Size, 16u, 1u << 24);
        var body = new byte[h.Size - 16];
        if (!ReadExactly(body, fds, timeoutMs)) throw new InvalidOperationException("closed mid-message");
        return new Reply(h, body, fds);
    }

    private bool ReadExactly(byte[] into, List<FileDescriptorHandle> fds, int timeoutMs)
    {
        int got = 0;
        while (got < into.Length)
        {
            if (!socket.WaitReadable(timeoutMs)) throw new TimeoutException("no reply from the server");
            int n = socket.Receive(into.AsSpan(got), fds, out _);
            if (n == 0)
            {
                if (got == 0) return false;
                throw new InvalidOperationException("closed mid-message");
            }
            got += n;
        }
        return true;
    }

    /// <summary>True when the server closed the connection (end of stream, after draining any replies).</summary>
    public bool IsClosedByServer(int timeoutMs = 30000)
    {
        try
        {
            while (Receive(timeoutMs) is { } r) r.Dispose();
            return true;
        }
        catch (ErrnoException e) when (e.Errno == Errno.ECONNRESET)
        {
            return true;
        }
    }

    public void Dispose() => socket.Dispose();
}

public sealed record Reply(VfioUserHeader Header, byte[] Payload, List<FileDescriptorHandle> Fds) : IDisposable
{
    public Errno Error => Header.IsError ? (Errno)Header.Error : Errno.None;

    public void Dispose()
    {
        foreach (var fd in Fds) fd.Dispose();
    }
}
