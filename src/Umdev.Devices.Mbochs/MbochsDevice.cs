using System.Buffers.Binary;
using Umdev.Vfio;
using Umdev.Vfio.Pci;

namespace Umdev.Devices.Mbochs;

/// <summary>
/// One mbochs display (the kernel's <c>mdev_state</c> with the mbochs ops): video memory a VMM maps
/// (BAR0), the register BAR (BAR2: EDID, VGA ports, DISPI), config space and the EDID region. One lock
/// serialises the registers, as the sample's <c>ops_lock</c>; the memory is the guest's to write at any time.
/// </summary>
internal sealed partial class MbochsDevice : IVfioDeviceOps, IVfioDisplay
{
    public const int MmioSize = 4096;
    public const uint EdidRegionIndex = VfioPci.NumRegions;
    public const uint NumRegions = EdidRegionIndex + 1;

    /// <summary><c>VFIO_REGION_TYPE_GFX</c> / <c>VFIO_REGION_SUBTYPE_GFX_EDID</c>.</summary>
    private const uint RegionTypeGfx = 1, SubtypeGfxEdid = 1;

    private const int EdidWindowEnd = 0x400;

    private readonly Lock _lock = new();
    private readonly VfioPciConfigRegion _config;
    private readonly ushort[] _vbe = new ushort[Dispi.Count];
    private readonly MbochsEdid _edid;
    private readonly VfioMemoryRegion _vram;

    public MbochsDevice(MbochsType type)
    {
        Type = type;
        _config = new VfioPciConfigRegion(MbochsConfigSpace.Of(type));
        _edid = new MbochsEdid(type.MaxXres, type.MaxYres);
        // Fix (mbochs.md §1.6, mdev_access): the sample's read/write of BAR0 subtracts the MMIO BAR's
        // offset instead of the memory BAR's, so it lands two pages away from what mmap shows and can
        // index past its page array. Here region reads and writes and every mapping are the same memfd
        // bytes at the same in-region offset, which the model has bounds-checked.
        _vram = new VfioMemoryRegion(VfioPci.Bar0RegionIndex, type.MemorySize, name: "mbochs-vram");
        ResetRegisters();
        Layout = new VfioDeviceLayout
        {
            NumRegions = NumRegions,
            Regions = DeclareRegions(),
            // The sample reports count 0 for each of the 5 indexes (REQ, which the model adds, has 1).
            Compatibility = VfioCompatibility.UndeclaredIrqsCountZero,
        };
    }

    public MbochsType Type { get; }

    public string Name => "mbochs";

    public VfioDeviceLayout Layout { get; }

    /// <summary>BAR0 memory, BAR2 registers, config space, the EDID region; every other index empty (size 0, no flags).</summary>
    private VfioRegion[] DeclareRegions()
    {
        var regions = new VfioRegion[NumRegions];
        for (uint index = 0; index < NumRegions; index++)
        {
            regions[index] = index switch
            {
                VfioPci.Bar0RegionIndex => _vram,
                2 => new MmioRegion(this),
                VfioPci.ConfigRegionIndex => _config,
                EdidRegionIndex => new EdidRegion(this) { Capabilities = [new VfioRegionTypeCapability(RegionTypeGfx, SubtypeGfxEdid)] },
                _ => VfioRegion.Empty(index),
            };
        }
        return regions;
    }

    private const VfioRegionFlags ReadWrite = VfioRegionFlags.Read | VfioRegionFlags.Write;

    private sealed class MmioRegion(MbochsDevice device) : VfioRegion(2, MmioSize, ReadWrite)
    {
        protected override void Read(ulong offset, Span<byte> data) => device.ReadMmio(offset, data);

        protected override void Write(ulong offset, ReadOnlySpan<byte> data) => device.WriteMmio(offset, data);
    }

    private sealed class EdidRegion(MbochsDevice device) : VfioRegion(EdidRegionIndex, MbochsEdid.RegionSize, ReadWrite)
    {
        protected override void Read(ulong offset, Span<byte> data)
        {
            lock (device._lock)
                foreach (var (at, pos, size) in new VfioAccessPieces(offset, data.Length))
                    device._edid.Read((int)pos, data.Slice(at, size));
        }

        protected override void Write(ulong offset, ReadOnlySpan<byte> data)
        {
            lock (device._lock)
                foreach (var (at, pos, size) in new VfioAccessPieces(offset, data.Length))
                    device._edid.Write((int)pos, data.Slice(at, size));
        }
    }

    /// <summary>
    /// BAR2 reads, split as the sample splits them: the EDID window, then the DISPI registers (16-bit
    /// pieces only; an 8- or 32-bit piece reads 0, as the sample's "unhandled"); everything else reads 0.
    /// </summary>
    private void ReadMmio(ulong offset, Span<byte> data)
    {
        lock (_lock)
        {
            foreach (var (at, pos, size) in new VfioAccessPieces(offset, data.Length))
            {
                var piece = data.Slice(at, size);
                int register = (int)pos;
                if (register < EdidWindowEnd) _edid.ReadBar(register, piece);
                else if (register is >= Dispi.First and <= Dispi.Last && size == 2)
                    BinaryPrimitives.WriteUInt16LittleEndian(piece, _vbe[(register - Dispi.First) / 2]);
                else piece.Clear();
            }
        }
    }

    /// <summary>
    /// BAR2 writes: only 16-bit DISPI pieces change state (any value is stored, as on the hardware; the
    /// plane query judges the mode). Decision (mbochs.md §1.4): the VGA port area (0x400–0x41f, bochs-drm's
    /// blanking) and the QEMU extension registers (0x600–0x607) are ignored as in the sample; the config
    /// space says revision 1, so bochs-drm never uses the extension registers.
    /// </summary>
    private void WriteMmio(ulong offset, ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            foreach (var (at, pos, size) in new VfioAccessPieces(offset, data.Length))
            {
                int register = (int)pos;
                if (register is >= Dispi.First and <= Dispi.Last && size == 2)
                    _vbe[(register - Dispi.First) / 2] = BinaryPrimitives.ReadUInt16LittleEndian(data.Slice(at, 2));
            }
        }
    }

    /// <summary>
    /// The sample's <c>mbochs_check_framebuffer</c>: enabled, 32 bpp, at least 64x64, the frame inside the
    /// memory. umdev also refuses a mode beyond the type's maximum (the sample only advertises it in the
    /// EDID region). Fix (mbochs.md §1.6, <c>mbochs_dmabuf_alloc</c>): the sample's query allocates a
    /// dma-buf per new mode and discards the allocation's result, so the first query after a mode change
    /// fails with ENOMEM; here the plane is the registers' region plane, and every query answers it.
    /// </summary>
    public VfioGfxPlane QueryPrimaryPlane()
    {
        lock (_lock) return Plane();
    }

    private VfioGfxPlane Plane()
    {
        if ((_vbe[Dispi.Enable] & Dispi.Enabled) == 0 || _vbe[Dispi.Bpp] != 32) return VfioGfxPlane.None;
        uint width = _vbe[Dispi.Xres], height = _vbe[Dispi.Yres];
        if (width < Dispi.MinResolution || height < Dispi.MinResolution) return VfioGfxPlane.None;
        if ((Type.MaxXres != 0 && width > Type.MaxXres) || (Type.MaxYres != 0 && height > Type.MaxYres)) return VfioGfxPlane.None;
        uint stride = Math.Max(_vbe[Dispi.VirtWidth], width) * 4;
        ulong start = (ulong)_vbe[Dispi.XOffset] * 4 + (ulong)_vbe[Dispi.YOffset] * stride;
        if (start + (ulong)stride * height > Type.MemorySize) return VfioGfxPlane.None;
        return new VfioGfxPlane(VfioGfxPlane.DrmFormatXrgb8888, width, height, stride, VfioPci.Bar0RegionIndex, start);
    }

    /// <summary>VFIO_DEVICE_RESET (the sample's <c>mbochs_reset</c>): the DISPI registers; memory, EDID and config space stay.</summary>
    public void Reset()
    {
        lock (_lock) ResetRegisters();
    }

    private void ResetRegisters()
    {
        Array.Clear(_vbe);
        _vbe[Dispi.Id] = Dispi.Id5;
        _vbe[Dispi.VideoMemory64K] = (ushort)(Type.MemorySize / 0x10000);
    }
}
