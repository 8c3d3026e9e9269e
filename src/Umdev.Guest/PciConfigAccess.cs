using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.Guest;

/// <summary>Config-space accesses of a guest, carried to the device's config region (index 7).</summary>
public sealed class PciConfigAccess(IVfioClientDevice device)
{
    private int? _size;

    public IVfioClientDevice Device { get; } = device;

    /// <summary>Bytes of config space the device offers: its config region's size, at most 256.</summary>
    public int Size => _size ??= (int)Math.Min(Device.GetRegionInfo(VfioPci.ConfigRegionIndex).Size, 256);

    /// <summary>The whole config space as a 256-byte image (bytes past <see cref="Size"/> are 0).</summary>
    public byte[] ReadAll()
    {
        var bytes = new byte[256];
        Read(0, bytes.AsSpan(0, Size));
        return bytes;
    }

    public byte Read8(int offset)
    {
        Span<byte> b = stackalloc byte[1];
        Read(offset, b);
        return b[0];
    }

    public ushort Read16(int offset)
    {
        Span<byte> b = stackalloc byte[2];
        Read(offset, b);
        return BinaryPrimitives.ReadUInt16LittleEndian(b);
    }

    public uint Read32(int offset)
    {
        Span<byte> b = stackalloc byte[4];
        Read(offset, b);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    public void Write8(int offset, byte value) => Write(offset, [value]);

    public void Write16(int offset, ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, value);
        Write(offset, b);
    }

    public void Write32(int offset, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        Write(offset, b);
    }

    public void Read(int offset, Span<byte> buffer)
    {
        int n = Device.ReadRegion(VfioPci.ConfigRegionIndex, (ulong)offset, buffer);
        if (n != buffer.Length) ThrowHelper.Throw(Errno.EIO, $"short config read at 0x{offset:x2}");
    }

    public void Write(int offset, ReadOnlySpan<byte> buffer)
    {
        int n = Device.WriteRegion(VfioPci.ConfigRegionIndex, (ulong)offset, buffer);
        if (n != buffer.Length) ThrowHelper.Throw(Errno.EIO, $"short config write at 0x{offset:x2}");
    }
}
