namespace Umdev.Vfio;

/// <summary>Device flags of <c>vfio_device_info</c>.</summary>
[Flags]
public enum VfioDeviceFlags : uint
{
    None = 0,
    Reset = 0x1,
    Pci = 0x2,
    Platform = 0x4,
    Amba = 0x8,
    Ccw = 0x10,
    Ap = 0x20,
    FslMc = 0x40,
    Caps = 0x80,
    Cdx = 0x100,
}

/// <summary>Region flags of <c>vfio_region_info</c>.</summary>
[Flags]
public enum VfioRegionFlags : uint
{
    None = 0,
    Read = 0x1,
    Write = 0x2,
    Mmap = 0x4,
    Caps = 0x8,
}

/// <summary>Flags of <c>vfio_irq_info</c>.</summary>
[Flags]
public enum VfioIrqInfoFlags : uint
{
    None = 0,
    EventFd = 0x1,
    Maskable = 0x2,
    Automasked = 0x4,
    NoResize = 0x8,
}

/// <summary>Flags of <c>vfio_irq_set</c>: one data type and one action.</summary>
[Flags]
public enum VfioIrqSetFlags : uint
{
    DataNone = 0x01,
    DataBool = 0x02,
    DataEventFd = 0x04,
    ActionMask = 0x08,
    ActionUnmask = 0x10,
    ActionTrigger = 0x20,

    DataTypeMask = 0x07,
    ActionTypeMask = 0x38,
}

/// <summary>Region and IRQ indexes of the vfio-pci ABI.</summary>
public static class VfioPci
{
    public const uint Bar0RegionIndex = 0;
    public const uint Bar5RegionIndex = 5;
    public const uint RomRegionIndex = 6;
    public const uint ConfigRegionIndex = 7;
    public const uint VgaRegionIndex = 8;
    public const uint NumRegions = 9;

    /// <summary>The highest index whose <c>index &lt;&lt; 40</c> offset fits in 64 bits.</summary>
    public const uint MaxRegionIndex = (1u << 24) - 1;

    public const uint IntxIrqIndex = 0;
    public const uint MsiIrqIndex = 1;
    public const uint MsixIrqIndex = 2;
    public const uint ErrIrqIndex = 3;
    public const uint ReqIrqIndex = 4;
    public const uint NumIrqs = 5;

    public const string DeviceApi = "vfio-pci";

    /// <summary>vfio-pci places region <c>n</c> at device-file offset <c>n &lt;&lt; 40</c>.</summary>
    public const int OffsetShift = 40;
    public const ulong OffsetMask = (1UL << OffsetShift) - 1;

    public static ulong IndexToOffset(uint index) => (ulong)index << OffsetShift;
    public static uint OffsetToIndex(ulong offset) => (uint)(offset >> OffsetShift);
}
