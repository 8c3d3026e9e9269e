using System.Buffers.Binary;
using System.Numerics;

namespace Umdev.Vfio.Pci;

public sealed partial class PciConfigSpaceBuilder
{
    private const int MsiControl = 2, MsiAddressLow = 4;
    private const ushort MsiEnable = 0x0001, MsiMultipleMessageEnable = 0x0070, Msi64Bit = 0x0080, MsiPerVectorMasking = 0x0100;
    private const ushort MsiXFunctionMask = 0x4000, MsiXEnable = 0x8000;
    private const int MsiXMaxTableSize = 2048, MsiXEntrySize = 16;

    private readonly List<PciCapability> _capabilities = [];
    private readonly List<MsiXPlacement> _msix = [];

    /// <summary>
    /// An MSI capability for <paramref name="vectors"/> (1-32, a power of two) messages: enable,
    /// multiple-message enable, address and data are writable; with per-vector masking the mask bits
    /// are too, and the device sets pending bits with <see cref="PciConfigSpace.Store"/>.
    /// </summary>
    public PciConfigSpaceBuilder Msi(int vectors = 1, bool is64Bit = true, bool perVectorMasking = false, int? at = null)
    {
        if (vectors is < 1 or > 32 || !BitOperations.IsPow2(vectors))
            throw new ArgumentOutOfRangeException(nameof(vectors), vectors, "MSI offers 1, 2, 4, 8, 16 or 32 vectors");
        int length = (is64Bit ? 14 : 10) + (perVectorMasking ? 10 : 0);
        int o = Place(PciCapabilityId.Msi, length, at);
        ushort control = (ushort)(BitOperations.Log2((uint)vectors) << 1);
        if (is64Bit) control |= Msi64Bit;
        if (perVectorMasking) control |= MsiPerVectorMasking;
        BinaryPrimitives.WriteUInt16LittleEndian(_bytes.AsSpan(o + MsiControl), control);
        Writable(o + MsiControl, 2, MsiEnable | MsiMultipleMessageEnable);
        Writable(o + MsiAddressLow, 4, 0xfffffffc);
        int data = is64Bit ? 12 : 8;
        if (is64Bit) Writable(o + 8, 4, 0xffffffff);
        Writable(o + data, 2, 0xffff);
        if (perVectorMasking) Writable(o + data + 4, 4, vectors == 32 ? 0xffffffff : (1UL << vectors) - 1);
        return this;
    }

    /// <summary>
    /// An MSI-X capability: a table of <paramref name="tableSize"/> vectors and its pending-bit array,
    /// each at an 8-byte aligned offset in a declared memory BAR. Enable and function mask are
    /// writable. QEMU's vfio-user-pci emulates the table itself from this capability.
    /// </summary>
    public PciConfigSpaceBuilder MsiX(int tableSize, int tableBar, uint tableOffset, int pbaBar, uint pbaOffset, int? at = null)
    {
        if (tableSize is < 1 or > MsiXMaxTableSize)
            throw new ArgumentOutOfRangeException(nameof(tableSize), tableSize, "MSI-X offers 1 to 2048 vectors");
        CheckBir(tableBar, tableOffset, nameof(tableBar));
        CheckBir(pbaBar, pbaOffset, nameof(pbaBar));
        int o = Place(PciCapabilityId.MsiX, 12, at);
        BinaryPrimitives.WriteUInt16LittleEndian(_bytes.AsSpan(o + 2), (ushort)(tableSize - 1));
        BinaryPrimitives.WriteUInt32LittleEndian(_bytes.AsSpan(o + 4), tableOffset | (uint)tableBar);
        BinaryPrimitives.WriteUInt32LittleEndian(_bytes.AsSpan(o + 8), pbaOffset | (uint)pbaBar);
        Writable(o + 2, 2, MsiXFunctionMask | MsiXEnable);
        _msix.Add(new MsiXPlacement(tableSize, tableBar, tableOffset, pbaBar, pbaOffset));
        return this;
    }

    /// <summary>
    /// A vendor-specific capability: id 0x09, next, length (3 + the body's), then <paramref name="body"/>.
    /// Read-only unless a <see cref="Rule"/> says otherwise (give <paramref name="at"/> to know where it is).
    /// </summary>
    public PciConfigSpaceBuilder VendorCapability(ReadOnlySpan<byte> body, int? at = null)
    {
        int length = 3 + body.Length;
        if (length > byte.MaxValue) throw new ArgumentOutOfRangeException(nameof(body), body.Length, "a vendor capability is at most 255 bytes");
        int o = Place(PciCapabilityId.VendorSpecific, length, at);
        _bytes[o + 2] = (byte)length;
        body.CopyTo(_bytes.AsSpan(o + 3));
        return this;
    }

    /// <summary>Puts the capability at <paramref name="at"/> or at the first free dword-aligned place after the header.</summary>
    private int Place(PciCapabilityId id, int length, int? at)
    {
        int claim = (length + 3) & ~3;
        int offset = at ?? FirstFree(claim);
        if (offset < PciHeader.CapabilitiesStart || offset % 4 != 0 || offset + claim > PciConfigSpace.ConventionalSize)
            throw new ArgumentOutOfRangeException(nameof(at), offset, $"a {id} capability of {length} bytes does not fit at 0x{offset:x} (dword-aligned, 0x40-0xff)");
        Claim(offset, claim, $"{id} capability");
        _bytes[offset] = (byte)id;
        _capabilities.Add(new PciCapability(id, offset, length));
        return offset;
    }

    private int FirstFree(int length)
    {
        for (int offset = PciHeader.CapabilitiesStart; offset + length <= PciConfigSpace.ConventionalSize; offset += 4)
            if (!_claimed.Any(c => offset < c.Offset + c.Length && c.Offset < offset + length)) return offset;
        throw new ArgumentException($"no room left for a capability of {length} bytes");
    }

    private void Writable(int offset, int width, ulong mask) => SetRule(_writable, _clear, offset, width, PciFieldRule.ReadWrite(mask));

    private static void CheckBir(int bar, uint offset, string name)
    {
        if (bar is < 0 or >= PciHeader.BarCount) throw new ArgumentOutOfRangeException(name, bar, "BIR is a BAR index 0-5");
        if (offset % 8 != 0) throw new ArgumentOutOfRangeException(name, offset, "MSI-X structures are 8-byte aligned");
    }

    /// <summary>Chains the capabilities in the order declared: pointer at 0x34, each next byte to the following one.</summary>
    private List<PciCapability> LinkCapabilities(byte[] bytes)
    {
        bytes[PciHeader.CapabilityPointer] = _capabilities.Count > 0 ? (byte)_capabilities[0].Offset : (byte)0;
        for (int i = 0; i < _capabilities.Count; i++)
            bytes[_capabilities[i].Offset + 1] = i + 1 < _capabilities.Count ? (byte)_capabilities[i + 1].Offset : (byte)0;
        return [.. _capabilities];
    }

    /// <summary>The table and PBA must lie in declared memory BARs, apart from each other.</summary>
    private void ValidateMsiX()
    {
        foreach (var m in _msix)
        {
            ulong tableEnd = m.TableOffset + (ulong)m.TableSize * MsiXEntrySize;
            ulong pbaEnd = m.PbaOffset + (ulong)(m.TableSize + 63) / 64 * 8;
            CheckInMemoryBar(m.TableBar, m.TableOffset, tableEnd, "MSI-X table");
            CheckInMemoryBar(m.PbaBar, m.PbaOffset, pbaEnd, "MSI-X PBA");
            if (m.TableBar == m.PbaBar && m.TableOffset < pbaEnd && m.PbaOffset < tableEnd)
                throw new ArgumentException("the MSI-X table and PBA overlap");
        }
    }

    private void CheckInMemoryBar(int index, ulong start, ulong end, string what)
    {
        var bar = _bars.FirstOrDefault(b => b.Index == index);
        if (bar.Size == 0 || !bar.IsMemory) throw new ArgumentException($"the {what} is in BAR {index}, which is no memory BAR");
        if (end > bar.Size) throw new ArgumentException($"the {what} (0x{start:x}-0x{end:x}) does not fit in BAR {index} of 0x{bar.Size:x} bytes");
    }

    private readonly record struct MsiXPlacement(int TableSize, int TableBar, uint TableOffset, int PbaBar, uint PbaOffset);
}
