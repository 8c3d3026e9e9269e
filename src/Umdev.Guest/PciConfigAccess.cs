using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.Guest;

/// <summary>Config-space accesses of a guest, carried to the device's config region (index 7).</summary>
public sealed class PciConfigAccess(IVfioClientDevice device)
{
    public IVfioClientDevice Device { get; } = device;

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
