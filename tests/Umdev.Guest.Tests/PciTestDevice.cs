using Umdev.Interop;
using Umdev.Vfio;
using Umdev.Vfio.Pci;

namespace Umdev.Guest.Tests;

/// <summary>
/// A PCI device as its VMM sees it, whose config space is built with the builder: config region 7 is
/// the space itself, each declared BAR a region of its size (reads 0, writes dropped).
/// </summary>
internal sealed class PciTestDevice(PciConfigLayout layout) : IVfioClientDevice
{
    public PciConfigSpace Config { get; } = layout.CreateSpace();

    public VfioDeviceInfo GetInfo(uint argsz = 24) => new(VfioDeviceFlags.Pci, VfioPci.NumRegions, VfioPci.NumIrqs);

    public VfioRegionInfo GetRegionInfo(uint index, uint argsz = VfioRegionInfo.MinArgsz)
    {
        var rw = VfioRegionFlags.Read | VfioRegionFlags.Write;
        if (index == VfioPci.ConfigRegionIndex) return new VfioRegionInfo(index, rw, (ulong)Config.Size, 0);
        if (index >= VfioPci.NumRegions) return ThrowHelper.Throw<VfioRegionInfo>(Errno.EINVAL);
        ulong size = index <= VfioPci.Bar5RegionIndex && layout.FindBar((int)index) is { } bar ? bar.Size : 0;
        return new VfioRegionInfo(index, size == 0 ? VfioRegionFlags.None : rw, size, 0);
    }

    public VfioIrqInfo GetIrqInfo(uint index, uint argsz = VfioIrqInfo.MinArgsz) => ThrowHelper.Throw<VfioIrqInfo>(Errno.EINVAL);

    public void SetIrqs(in VfioIrqSet irqSet) => ThrowHelper.Throw(Errno.EINVAL);

    public int ReadRegion(uint index, ulong offset, Span<byte> buffer)
    {
        if (index == VfioPci.ConfigRegionIndex) Config.Read(CheckedOffset(index, offset, buffer.Length), buffer);
        else
        {
            CheckedOffset(index, offset, buffer.Length);
            buffer.Clear();
        }
        return buffer.Length;
    }

    public int WriteRegion(uint index, ulong offset, ReadOnlySpan<byte> buffer)
    {
        int at = CheckedOffset(index, offset, buffer.Length);
        if (index == VfioPci.ConfigRegionIndex) Config.Write(at, buffer);
        return buffer.Length;
    }

    public void Reset() => Config.Reset();

    public void Dispose() { }

    private int CheckedOffset(uint index, ulong offset, int length)
    {
        ulong size = GetRegionInfo(index).Size;
        if (offset > size || (ulong)length > size - offset) ThrowHelper.Throw(Errno.EINVAL, $"region {index}: {length} bytes at 0x{offset:x}");
        return (int)offset;
    }
}
