using System.Buffers.Binary;

namespace Umdev.VfioUser.Protocol;

/// <summary>The 16-byte header every message starts with.</summary>
public readonly record struct VfioUserHeader(ushort Id, ushort Command, uint Size, VfioUserFlags Flags, uint Error)
{
    public const int Length = 16;

    public VfioUserFlags Type => Flags & VfioUserFlags.TypeMask;
    public bool IsReply => Type == VfioUserFlags.Reply;
    public bool IsCommand => Type == VfioUserFlags.Command;
    public bool NoReply => (Flags & VfioUserFlags.NoReply) != 0;
    public bool IsError => (Flags & VfioUserFlags.Error) != 0;

    public static VfioUserHeader Read(ReadOnlySpan<byte> s) => new(
        BinaryPrimitives.ReadUInt16LittleEndian(s),
        BinaryPrimitives.ReadUInt16LittleEndian(s[2..]),
        BinaryPrimitives.ReadUInt32LittleEndian(s[4..]),
        (VfioUserFlags)BinaryPrimitives.ReadUInt32LittleEndian(s[8..]),
        BinaryPrimitives.ReadUInt32LittleEndian(s[12..]));

    public void Write(Span<byte> d)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(d, Id);
        BinaryPrimitives.WriteUInt16LittleEndian(d[2..], Command);
        BinaryPrimitives.WriteUInt32LittleEndian(d[4..], Size);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], (uint)Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(d[12..], Error);
    }

    /// <summary>The reply header for this command with a payload of <paramref name="payload"/> bytes.</summary>
    public VfioUserHeader ReplyWith(int payload) => new(Id, Command, (uint)(Length + payload), VfioUserFlags.Reply, 0);

    /// <summary>The header-only error reply carrying <paramref name="errno"/>.</summary>
    public VfioUserHeader ErrorReply(uint errno) => new(Id, Command, Length, VfioUserFlags.Reply | VfioUserFlags.Error, errno);
}
