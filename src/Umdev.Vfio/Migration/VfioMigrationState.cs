namespace Umdev.Vfio.Migration;

/// <summary>Device states of VFIO migration v2, with the kernel's values (<c>enum vfio_device_mig_state</c>).</summary>
public enum VfioMigrationState : uint
{
    /// <summary>Failed; only VFIO_DEVICE_RESET leaves it; never a valid request.</summary>
    Error = 0,
    /// <summary>Not running; state neither saved nor loaded.</summary>
    Stop = 1,
    /// <summary>Running normally.</summary>
    Running = 2,
    /// <summary>Stopped, its state being read (the final part of a save).</summary>
    StopCopy = 3,
    /// <summary>Stopped, its state being written (a load).</summary>
    Resuming = 4,
    /// <summary>Running, but initiating no peer-to-peer DMA.</summary>
    RunningP2P = 5,
    /// <summary>Running while its state is read ahead of the stop.</summary>
    PreCopy = 6,
    /// <summary>PRE_COPY with no peer-to-peer DMA initiated.</summary>
    PreCopyP2P = 7,
}

/// <summary>Migration capabilities of a device (<c>vfio_device_feature_migration.flags</c>).</summary>
[Flags]
public enum VfioMigrationFlags : ulong
{
    /// <summary>No migration.</summary>
    None = 0,
    /// <summary>STOP, STOP_COPY and RESUMING (required).</summary>
    StopCopy = 0x1,
    /// <summary>The P2P states.</summary>
    P2P = 0x2,
    /// <summary>The PRE_COPY states.</summary>
    PreCopy = 0x4,
}

/// <summary><c>vfio_precopy_info</c> without argsz and flags.</summary>
public readonly record struct VfioPrecopyInfo(ulong InitialBytes, ulong DirtyBytes)
{
    /// <summary>argsz of <c>struct vfio_precopy_info</c>.</summary>
    public const uint MinArgsz = 24;
}

/// <summary>One IOVA range of DMA_LOGGING_START.</summary>
public readonly record struct VfioDmaLoggingRange(ulong Iova, ulong Length);
