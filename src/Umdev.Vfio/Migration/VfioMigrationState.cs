namespace Umdev.Vfio.Migration;

/// <summary>Device states of VFIO migration v2, with the kernel's values (<c>enum vfio_device_mig_state</c>).</summary>
public enum VfioMigrationState : uint
{
    /// <summary>Failed; only VFIO_DEVICE_RESET leaves it; never a valid request.</summary>
    Error = 0,
    Stop = 1,
    Running = 2,
    StopCopy = 3,
    Resuming = 4,
    RunningP2P = 5,
    PreCopy = 6,
    PreCopyP2P = 7,
}

/// <summary>Migration capabilities of a device (<c>vfio_device_feature_migration.flags</c>).</summary>
[Flags]
public enum VfioMigrationFlags : ulong
{
    None = 0,
    StopCopy = 0x1,
    P2P = 0x2,
    PreCopy = 0x4,
}

/// <summary><c>vfio_precopy_info</c> without argsz and flags.</summary>
public readonly record struct VfioPrecopyInfo(ulong InitialBytes, ulong DirtyBytes)
{
    public const uint MinArgsz = 24;
}

/// <summary>One IOVA range of DMA_LOGGING_START.</summary>
public readonly record struct VfioDmaLoggingRange(ulong Iova, ulong Length);
