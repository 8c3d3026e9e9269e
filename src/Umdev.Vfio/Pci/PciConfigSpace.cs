using System.Buffers.Binary;
using Umdev.Interop;

namespace Umdev.Vfio.Pci;

/// <summary>
/// One device's configuration space: guest reads see its bytes, guest writes go through the layout's
/// rules and hooks. The device itself changes bytes with <see cref="Store"/>. Not thread-safe: the
/// device serialises accesses.
/// </summary>
public sealed class PciConfigSpace
{
    /// <summary>Bytes of a conventional PCI config space.</summary>
    public const int ConventionalSize = 256;
    /// <summary>Bytes of a PCI Express config space.</summary>
    public const int ExtendedSize = 4096;

    private readonly byte[] _bytes;

    internal PciConfigSpace(PciConfigLayout layout)
    {
        Layout = layout;
        _bytes = (byte[])layout.Initial.Clone();
    }

    /// <summary>The layout it was created from (its reset values and rules).</summary>
    public PciConfigLayout Layout { get; }

    /// <summary>Bytes of the space.</summary>
    public int Size => _bytes.Length;

    /// <summary>Copies config bytes at <paramref name="offset"/>; EINVAL if the range leaves config space.</summary>
    public void Read(int offset, Span<byte> destination)
    {
        CheckRange(offset, destination.Length);
        _bytes.AsSpan(offset, destination.Length).CopyTo(destination);
    }

    /// <summary>
    /// A guest write: hooked ranges go to their hook, every other byte follows its rule. EINVAL, and
    /// nothing changes, if the range leaves config space.
    /// </summary>
    public void Write(int offset, ReadOnlySpan<byte> data)
    {
        CheckRange(offset, data.Length);
        int end = offset + data.Length, pos = offset;
        foreach (var hook in Layout.Hooks)
        {
            if (hook.End <= pos) continue;
            if (hook.Start >= end) break;
            if (hook.Start > pos)
            {
                ApplyWriteRules(pos, data.Slice(pos - offset, hook.Start - pos));
                pos = hook.Start;
            }
            int stop = Math.Min(end, hook.End);
            hook.Hook(this, pos, data.Slice(pos - offset, stop - pos));
            pos = stop;
        }
        if (pos < end) ApplyWriteRules(pos, data[(pos - offset)..]);
    }

    /// <summary>Applies the bit rules to a write, ignoring hooks: what a hook calls for the default behaviour.</summary>
    public void ApplyWriteRules(int offset, ReadOnlySpan<byte> data)
    {
        CheckRange(offset, data.Length);
        var writable = Layout.Writable;
        var clear = Layout.WriteOneToClear;
        for (int i = 0; i < data.Length; i++)
        {
            int at = offset + i;
            int value = (_bytes[at] & ~writable[at]) | (data[i] & writable[at]);
            _bytes[at] = (byte)(value & ~(data[i] & clear[at]));
        }
    }

    /// <summary>The device's own update of config bytes (status bits, pending bits, quirks): no rule applies.</summary>
    public void Store(int offset, ReadOnlySpan<byte> data)
    {
        CheckRange(offset, data.Length);
        data.CopyTo(_bytes.AsSpan(offset));
    }

    /// <summary>The device's own 16-bit store (little-endian), no rule applied.</summary>
    public void StoreUInt16(int offset, ushort value)
    {
        CheckRange(offset, 2);
        BinaryPrimitives.WriteUInt16LittleEndian(_bytes.AsSpan(offset), value);
    }

    /// <summary>The device's own 32-bit store (little-endian), no rule applied.</summary>
    public void StoreUInt32(int offset, uint value)
    {
        CheckRange(offset, 4);
        BinaryPrimitives.WriteUInt32LittleEndian(_bytes.AsSpan(offset), value);
    }

    /// <summary>The byte at <paramref name="offset"/>.</summary>
    public byte ReadByte(int offset)
    {
        CheckRange(offset, 1);
        return _bytes[offset];
    }

    /// <summary>The little-endian 16-bit value at <paramref name="offset"/>.</summary>
    public ushort ReadUInt16(int offset)
    {
        CheckRange(offset, 2);
        return BinaryPrimitives.ReadUInt16LittleEndian(_bytes.AsSpan(offset));
    }

    /// <summary>The little-endian 32-bit value at <paramref name="offset"/>.</summary>
    public uint ReadUInt32(int offset)
    {
        CheckRange(offset, 4);
        return BinaryPrimitives.ReadUInt32LittleEndian(_bytes.AsSpan(offset));
    }

    /// <summary>
    /// The address the guest programmed into a declared BAR (both slots of a 64-bit pair), without
    /// its type bits; EINVAL if no BAR is declared at <paramref name="index"/>.
    /// </summary>
    public ulong GetBarAddress(int index)
    {
        if (Layout.FindBar(index) is not { } bar) return ThrowHelper.Throw<ulong>(Errno.EINVAL, $"no BAR {index}");
        int at = PciHeader.BarOffset(index);
        ulong low = ReadUInt32(at) & ~(ulong)(bar.IsIo ? 0x3 : 0xf);
        return bar.Is64Bit ? low | (ulong)ReadUInt32(at + 4) << 32 : low;
    }

    /// <summary>Back to the bytes the layout declared (a function-level reset).</summary>
    public void Reset() => Layout.Initial.CopyTo(_bytes, 0);

    private void CheckRange(int offset, int length)
    {
        if (offset < 0 || length < 0 || offset > _bytes.Length - length)
            ThrowHelper.Throw(Errno.EINVAL, $"config access of {length} bytes at 0x{offset:x} is outside its {_bytes.Length} bytes");
    }
}
