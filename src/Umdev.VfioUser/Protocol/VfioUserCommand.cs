namespace Umdev.VfioUser.Protocol;

/// <summary>vfio-user command numbers (QEMU docs/interop/vfio-user.rst).</summary>
public enum VfioUserCommand : ushort
{
    Version = 1,
    DmaMap = 2,
    DmaUnmap = 3,
    DeviceGetInfo = 4,
    DeviceGetRegionInfo = 5,
    DeviceGetRegionIoFds = 6,
    DeviceGetIrqInfo = 7,
    DeviceSetIrqs = 8,
    RegionRead = 9,
    RegionWrite = 10,
    DmaRead = 11,
    DmaWrite = 12,
    DeviceReset = 13,
    DirtyPages = 14,
    RegionWriteMulti = 15,
    DeviceFeature = 16,
    MigDataRead = 17,
    MigDataWrite = 18,
}

/// <summary>Header flag bits.</summary>
[Flags]
public enum VfioUserFlags : uint
{
    Command = 0x0,
    Reply = 0x1,
    TypeMask = 0xF,
    NoReply = 0x10,
    Error = 0x20,
}
