using Umdev.Interop;
using S = Umdev.Vfio.Migration.VfioMigrationState;

namespace Umdev.Vfio.Migration;

/// <summary>
/// The kernel's <c>vfio_mig_get_next_state</c>: decomposes any requested transition into the single
/// arcs a driver implements, skipping the optional states the device does not support.
/// </summary>
public static class VfioMigrationStateTable
{
    private const int NumStates = 8;

    // next = Table[current, target], for a device supporting STOP_COPY | P2P | PRE_COPY; ERROR = not allowed.
    private static readonly S[,] Table =
    {
        //           STOP(1)      RUNNING(2)   STOP_COPY(3) RESUMING(4)  RUNNING_P2P(5) PRE_COPY(6)  PRE_COPY_P2P(7)
        /* ERROR */ { S.Error, S.Error, S.Error, S.Error, S.Error, S.Error, S.Error, S.Error },
        /* STOP */  { S.Error, S.Stop, S.RunningP2P, S.StopCopy, S.Resuming, S.RunningP2P, S.RunningP2P, S.RunningP2P },
        /* RUN */   { S.Error, S.RunningP2P, S.Running, S.RunningP2P, S.RunningP2P, S.RunningP2P, S.PreCopy, S.RunningP2P },
        /* SCOPY */ { S.Error, S.Stop, S.Stop, S.StopCopy, S.Stop, S.Stop, S.Error, S.Error },
        /* RESUM */ { S.Error, S.Stop, S.Stop, S.Stop, S.Resuming, S.Stop, S.Stop, S.Stop },
        /* RP2P */  { S.Error, S.Stop, S.Running, S.Stop, S.Stop, S.RunningP2P, S.Running, S.PreCopyP2P },
        /* PRE */   { S.Error, S.Running, S.Running, S.PreCopyP2P, S.Running, S.Running, S.PreCopy, S.PreCopyP2P },
        /* PREP2P */{ S.Error, S.RunningP2P, S.RunningP2P, S.StopCopy, S.RunningP2P, S.RunningP2P, S.PreCopy, S.PreCopyP2P },
    };

    /// <summary>Whether a device with <paramref name="flags"/> supports <paramref name="state"/> (ERROR never).</summary>
    public static bool IsSupported(VfioMigrationState state, VfioMigrationFlags flags)
    {
        var needed = state switch
        {
            S.Stop or S.Running or S.StopCopy or S.Resuming => VfioMigrationFlags.StopCopy,
            S.RunningP2P => VfioMigrationFlags.StopCopy | VfioMigrationFlags.P2P,
            S.PreCopy => VfioMigrationFlags.StopCopy | VfioMigrationFlags.PreCopy,
            S.PreCopyP2P => VfioMigrationFlags.StopCopy | VfioMigrationFlags.P2P | VfioMigrationFlags.PreCopy,
            _ => (VfioMigrationFlags)ulong.MaxValue,
        };
        return (flags & needed) == needed;
    }

    /// <summary>
    /// The next arc from <paramref name="current"/> towards <paramref name="target"/>; EINVAL when either
    /// state is unknown or unsupported, when the device is in ERROR, or when the transition is forbidden
    /// (e.g. STOP_COPY → PRE_COPY).
    /// </summary>
    public static VfioMigrationState NextState(VfioMigrationState current, VfioMigrationState target, VfioMigrationFlags flags)
    {
        if ((uint)current >= NumStates || !IsSupported(current, flags))
            ThrowHelper.Throw(Errno.EINVAL, $"device state {current} is not a supported state");
        if ((uint)target >= NumStates || !IsSupported(target, flags))
            ThrowHelper.Throw(Errno.EINVAL, $"device state {(uint)target} is not supported");
        var next = Table[(int)current, (int)target];
        while (!IsSupported(next, flags) && next != S.Error) next = Table[(int)next, (int)target];
        if (next == S.Error) ThrowHelper.Throw(Errno.EINVAL, $"no transition from {current} to {target}");
        return next;
    }

    /// <summary>Every arc of the path from <paramref name="current"/> to <paramref name="target"/>.</summary>
    public static IReadOnlyList<VfioMigrationState> Path(VfioMigrationState current, VfioMigrationState target, VfioMigrationFlags flags)
    {
        var path = new List<VfioMigrationState>();
        while (current != target)
        {
            current = NextState(current, target, flags);
            path.Add(current);
        }
        return path;
    }
}
