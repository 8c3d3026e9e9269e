using System.Diagnostics.CodeAnalysis;
using Umdev.Interop;
using Umdev.Vfio.Migration;

namespace Umdev.Vfio;

public sealed partial class VfioDevice
{
    private readonly VfioRegion?[] _regions;
    private volatile bool _unregistered;
    private uint _cachedNumIrqs;

    /// <summary>The declared regions and the ones the model <paramref name="derived"/>, by index.</summary>
    private static VfioRegion?[] IndexRegions(VfioDeviceLayout layout, List<VfioRegion> derived)
    {
        // A driver that declares its regions as an array in index order (mtty) shares it: one array less
        // per device, which counts at thousands of devices.
        if (derived.Count == 0 && layout.Regions is VfioRegion[] { Length: > 0 } declared && declared.Length >= layout.NumRegions && InIndexOrder(declared))
            return declared;
        uint count = layout.NumRegions;
        foreach (var r in layout.Regions) count = Math.Max(count, r.Index + 1);
        var byIndex = new VfioRegion?[count];
        foreach (var r in layout.Regions.Concat(derived))
        {
            if (byIndex[r.Index] is not null) throw new ArgumentException($"region {r.Index} declared twice", nameof(layout));
            byIndex[r.Index] = r;
        }
        return byIndex;
    }

    private static bool InIndexOrder(VfioRegion[] regions)
    {
        for (int i = 0; i < regions.Length; i++)
            if (regions[i].Index != (uint)i) return false;
        return true;
    }

    /// <summary>VFIO_DEVICE_GET_INFO; <paramref name="argsz"/> is the caller's buffer size.</summary>
    public VfioDeviceInfo GetInfo(uint argsz)
    {
        if (argsz < VfioDeviceInfo.MinArgsz) ThrowHelper.Throw(Errno.EINVAL, "argsz below 16");
        var info = new VfioDeviceInfo(Layout.Flags, Layout.NumRegions, VfioPci.NumIrqs);
        Volatile.Write(ref _cachedNumIrqs, info.NumIrqs);
        return info;
    }

    /// <summary>VFIO_DEVICE_GET_REGION_INFO: a declared region, or size 0 with no flags for an empty index.</summary>
    public VfioRegionInfo GetRegionInfo(uint index, uint argsz)
    {
        if (argsz < VfioRegionInfo.MinArgsz) ThrowHelper.Throw(Errno.EINVAL, "argsz below 32");
        if (index >= (uint)_regions.Length) ThrowHelper.Throw(Errno.EINVAL, $"no region {index}");
        return _regions[index]?.Info ?? new VfioRegionInfo(index, VfioRegionFlags.None, 0, VfioPci.IndexToOffset(index));
    }

    /// <summary>VFIO_DEVICE_GET_IRQ_INFO.</summary>
    public VfioIrqInfo GetIrqInfo(uint index, uint argsz)
    {
        if (argsz < VfioIrqInfo.MinArgsz || index >= NumIrqs) ThrowHelper.Throw(Errno.EINVAL, $"no IRQ info for index {index}");
        if (Layout.Has(VfioCompatibility.UndeclaredIrqsCountZero) && !Interrupts.Declares(index)) return new VfioIrqInfo(index, VfioIrqInfoFlags.None, 0);
        return Interrupts.GetInfo(index);
    }

    /// <summary>VFIO_DEVICE_SET_IRQS.</summary>
    public void SetIrqs(in VfioIrqSet set) => Interrupts.SetIrqs(set, NumIrqs, Layout.Has(VfioCompatibility.SetIrqsWithoutAction));

    private uint NumIrqs => Layout.Has(VfioCompatibility.IrqInfoNeedsDeviceInfo) ? Volatile.Read(ref _cachedNumIrqs) : VfioPci.NumIrqs;

    /// <summary>read() of the device file at <paramref name="offset"/> (region index &lt;&lt; 40 | in-region offset).</summary>
    public int Read(Span<byte> buffer, ulong offset)
    {
        var region = Resolve(offset, buffer.Length, out ulong at);
        if (buffer.Length > 0) region.Read(at, buffer);
        return buffer.Length;
    }

    /// <summary>write() of the device file.</summary>
    public int Write(ReadOnlySpan<byte> buffer, ulong offset)
    {
        var region = Resolve(offset, buffer.Length, out ulong at);
        if (buffer.Length > 0) region.Write(at, buffer);
        return buffer.Length;
    }

    /// <summary>
    /// The region an access falls in, after the checks every driver needs: the device still registered
    /// (ENODEV), the whole access inside one declared region (EINVAL, overflow-safe), and the region's
    /// freeze policy while the device is frozen for migration (EINVAL).
    /// </summary>
    private VfioRegion Resolve(ulong offset, int length, out ulong inRegion)
    {
        if (_unregistered) ThrowHelper.Throw(Errno.ENODEV, $"{Name} was removed");
        uint index = VfioPci.OffsetToIndex(offset);
        inRegion = offset & VfioPci.OffsetMask;
        var region = index < (uint)_regions.Length ? _regions[index] : null;
        if (region is null || inRegion > region.Size || (ulong)length > region.Size - inRegion)
            ThrowInvalidAccess(index, inRegion, length);
        if (!region.AccessibleWhileFrozen && Migration?.State is VfioMigrationState.Stop or VfioMigrationState.StopCopy or VfioMigrationState.Resuming)
            ThrowFrozen(index);
        return region;
    }

    [DoesNotReturn]
    private static void ThrowInvalidAccess(uint index, ulong offset, int length) =>
        ThrowHelper.Throw(Errno.EINVAL, $"access of {length} bytes at 0x{offset:x} lies outside region {index}");

    [DoesNotReturn]
    private static void ThrowFrozen(uint index) =>
        ThrowHelper.Throw(Errno.EINVAL, $"region {index} is not accessible while the device is stopped for migration");
}
