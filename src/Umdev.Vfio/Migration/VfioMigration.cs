using Umdev.Interop;
using S = Umdev.Vfio.Migration.VfioMigrationState;

namespace Umdev.Vfio.Migration;

/// <summary>
/// The migration v2 machinery of one device (what the kernel's VFIO core and a driver's set_state
/// loop do together): the current state, the walk through the state table one driver arc at a time,
/// the data sessions and the migration features.
/// </summary>
public sealed class VfioMigration
{
    /// <summary>DMA_LOGGING_START accepts at most one page worth of 16-byte ranges.</summary>
    public const int MaxLoggingRanges = 4096 / 16;

    private readonly Lock _stateLock = new();
    private readonly IVfioMigrationDriver _driver;
    // Written under _stateLock; read without it (a region access checks it on every message).
    private volatile S _state = S.Running;
    private VfioMigrationSaveStream? _saving;
    private VfioMigrationResumeStream? _resuming;
    private bool _unregistered;
    private readonly VfioDmaDirtyLog _dirtyLog;

    internal VfioMigration(IVfioMigrationDriver driver, VfioDmaDirtyLog dirtyLog)
    {
        _dirtyLog = dirtyLog;
        if ((driver.MigrationFlags & VfioMigrationFlags.StopCopy) == 0)
            throw new ArgumentException("a migration driver must support STOP_COPY", nameof(driver));
        _driver = driver;
    }

    /// <summary>The driver's migration capabilities.</summary>
    public VfioMigrationFlags Flags => _driver.MigrationFlags;

    /// <summary>The device's migration state.</summary>
    public S State => _state;

    /// <summary>MIG_DATA_SIZE, asked of the driver.</summary>
    public ulong StopCopySize => _driver.GetStopCopySize();

    /// <summary>
    /// MIG_DEVICE_STATE SET: walks every arc to <paramref name="target"/>. Returns the stream the last arc
    /// opened, or null. On failure the device stays in the state of the last successful arc.
    /// </summary>
    public VfioMigrationStream? SetState(S target)
    {
        lock (_stateLock)
        {
            if (_unregistered) ThrowHelper.Throw(Errno.ENODEV, "device unregistered");
            VfioMigrationStream? opened = null;
            while (_state != target)
            {
                var next = VfioMigrationStateTable.NextState(_state, target, Flags);
                opened = Step(_state, next);
                _state = next;
                if (opened is not null && next != target)
                {
                    // Only the final arc may open a session (the kernel WARNs and fails likewise).
                    opened.Disable();
                    ThrowHelper.Throw(Errno.EINVAL, $"arc to {next} opened a data session before {target}");
                }
            }
            return opened;
        }
    }

    private VfioMigrationStream? Step(S from, S to)
    {
        switch (from, to)
        {
            case (S.Running, S.PreCopy) or (S.RunningP2P, S.PreCopyP2P) or (S.Stop, S.StopCopy) when _saving is null:
                _saving = new VfioMigrationSaveStream(_driver.StartSaving(new VfioMigrationArc(from, to, null)));
                return _saving;
            case (S.Stop, S.Resuming):
                _resuming = new VfioMigrationResumeStream(_driver.StartResuming(new VfioMigrationArc(from, to, null)));
                return _resuming;
            case (S.Resuming, S.Stop):
                if (_resuming is null) ThrowHelper.Throw(Errno.EINVAL, "no resuming session");
                _resuming.Complete();
                DisableStreams();
                return null;
            case (S.PreCopy, S.Running) or (S.PreCopyP2P, S.RunningP2P) or (S.StopCopy, S.Stop):
                StepInSession(from, to);
                DisableStreams();
                return null;
            default:
                StepInSession(from, to);
                return null;
        }
    }

    /// <summary>An arc with the saving session's source, if any, kept from concurrent reads meanwhile.</summary>
    private void StepInSession(S from, S to)
    {
        if (_saving is null)
        {
            Drive(new VfioMigrationArc(from, to, null));
            return;
        }
        lock (_saving.Sync) Drive(new VfioMigrationArc(from, to, _saving.Source));
    }

    /// <summary>The driver's method for the kind of transition <paramref name="arc"/> is.</summary>
    private void Drive(in VfioMigrationArc arc)
    {
        switch (arc.From, arc.To)
        {
            case (S.Running or S.RunningP2P, S.Stop):
                _driver.Quiesce(arc);
                break;
            case (S.PreCopy or S.PreCopyP2P, S.StopCopy):
                _driver.Quiesce(arc);
                _driver.EnterStopCopy(arc);
                break;
            case (S.Stop, S.Running or S.RunningP2P):
                _driver.Resume(arc);
                break;
            case (S.Running, S.RunningP2P) or (S.PreCopy, S.PreCopyP2P):
                _driver.QuiesceP2P(arc);
                break;
            case (S.RunningP2P, S.Running) or (S.PreCopyP2P, S.PreCopy):
                _driver.ResumeP2P(arc);
                break;
            case (S.PreCopy, S.Running) or (S.PreCopyP2P, S.RunningP2P) or (S.StopCopy, S.Stop):
                _driver.EndSaving(arc);
                break;
            default:
                ThrowHelper.Throw(Errno.EINVAL, $"no arc {arc.From} -> {arc.To}"); // the state table gives none other
                break;
        }
    }

    /// <summary>
    /// VFIO_DEVICE_RESET: the driver resets the device (<paramref name="resetDevice"/>) in the state it is in,
    /// then the model walks it back to RUNNING along the state table's arcs, as any resume does, so a driver
    /// that quiesced for a stop is told to run again; every session ends. A resuming session is dropped, its
    /// partial stream never loaded, and the walk starts from STOP. A failing arc fails the reset with its
    /// errno, the device left in the state of the last arc that succeeded.
    /// </summary>
    // Reset before the walk: a driver resumed first would run on its old state (a virtio queue served) until
    // the reset. Both under the state lock, so no transition comes between them.
    internal void Reset(Action resetDevice)
    {
        lock (_stateLock)
        {
            if (_state == S.Resuming)
            {
                _resuming?.Disable();
                _resuming = null;
                _state = S.Stop;
            }
            resetDevice();
            // An unregistered device is not driven any more (its driver may have let go of its state).
            if (_unregistered) _state = S.Running;
            while (_state != S.Running)
            {
                var next = VfioMigrationStateTable.NextState(_state, S.Running, Flags);
                Step(_state, next);
                _state = next;
            }
            DisableStreams();
        }
    }

    /// <summary>The device is unregistered: sessions end and no new transition starts (ENODEV).</summary>
    internal void Shutdown()
    {
        lock (_stateLock)
        {
            _unregistered = true;
            DisableStreams();
        }
    }

    /// <summary>Last close of the device: the sessions end; the state is kept.</summary>
    public void Close()
    {
        lock (_stateLock) DisableStreams();
        if (_driver is not IVfioDmaLoggingDriver) _dirtyLog.Stop(); // the client that started it is gone
    }

    /// <summary>
    /// VFIO_MIG_GET_PRECOPY_INFO on a saving stream: EINVAL for argsz &lt; 24 or outside PRE_COPY and
    /// PRE_COPY_P2P, ENODEV on a stream whose session ended.
    /// </summary>
    public VfioPrecopyInfo GetPrecopyInfo(VfioMigrationSaveStream stream, uint argsz = VfioPrecopyInfo.MinArgsz)
    {
        if (argsz < VfioPrecopyInfo.MinArgsz) ThrowHelper.Throw(Errno.EINVAL, "argsz below 24");
        lock (_stateLock)
        {
            if (_state is not (S.PreCopy or S.PreCopyP2P)) ThrowHelper.Throw(Errno.EINVAL, $"no precopy info in {_state}");
            return stream.PrecopyInfo;
        }
    }

    /// <summary>The saving stream of the current session (what vfio-user's MIG_DATA_READ reads); EINVAL outside the saving states.</summary>
    public VfioMigrationSaveStream CurrentSavingStream
    {
        get
        {
            lock (_stateLock)
            {
                if (_state is not (S.PreCopy or S.PreCopyP2P or S.StopCopy) || _saving is null)
                    ThrowHelper.Throw(Errno.EINVAL, $"no saving session in {_state}");
                return _saving;
            }
        }
    }

    /// <summary>The resuming stream of the current session (vfio-user MIG_DATA_WRITE); EINVAL outside RESUMING.</summary>
    public VfioMigrationResumeStream CurrentResumingStream
    {
        get
        {
            lock (_stateLock)
            {
                if (_state != S.Resuming || _resuming is null) ThrowHelper.Throw(Errno.EINVAL, $"no resuming session in {_state}");
                return _resuming;
            }
        }
    }

    /// <summary>
    /// DMA_LOGGING_START with the kernel's checks: at least one and at most <see cref="MaxLoggingRanges"/>
    /// ranges (EINVAL / E2BIG), a page size that is a power of two and ranges aligned to it (EINVAL), not
    /// wrapping (EOVERFLOW) and not overlapping another (EINVAL). Returns the page size the device logs
    /// with. Unless the driver logs itself (<see cref="IVfioDmaLoggingDriver"/>), the model logs every
    /// write the device makes through its DMA table (<see cref="VfioDmaDirtyLog"/>); a START while logging
    /// starts a new, empty log over the new ranges.
    /// </summary>
    public ulong StartDmaLogging(ulong pageSize, ReadOnlySpan<VfioDmaLoggingRange> ranges)
    {
        if (ranges.Length == 0) ThrowHelper.Throw(Errno.EINVAL, "no logging ranges");
        if (ranges.Length > MaxLoggingRanges) ThrowHelper.Throw(Errno.E2BIG, "too many logging ranges");
        if (pageSize == 0 || (pageSize & (pageSize - 1)) != 0) ThrowHelper.Throw(Errno.EINVAL, "logging page size not a power of two");
        var sorted = new (ulong First, ulong Last)[ranges.Length];
        for (int i = 0; i < ranges.Length; i++)
        {
            var r = ranges[i];
            if ((r.Iova & (pageSize - 1)) != 0 || (r.Length & (pageSize - 1)) != 0)
                ThrowHelper.Throw(Errno.EINVAL, "logging range not page aligned");
            if (r.Iova + r.Length < r.Iova) ThrowHelper.Throw(Errno.EOVERFLOW, "logging range wraps");
            if (r.Length == 0) ThrowHelper.Throw(Errno.EINVAL, "empty logging range");
            sorted[i] = (r.Iova, r.Iova + r.Length - 1);
        }
        Array.Sort(sorted);
        for (int i = 1; i < sorted.Length; i++)
            if (sorted[i].First <= sorted[i - 1].Last) ThrowHelper.Throw(Errno.EINVAL, "logging ranges overlap");
        return _driver is IVfioDmaLoggingDriver logging ? logging.StartDmaLogging(pageSize, ranges) : _dirtyLog.Start(pageSize, sorted);
    }

    /// <summary>DMA_LOGGING_STOP.</summary>
    public void StopDmaLogging()
    {
        if (_driver is IVfioDmaLoggingDriver logging) logging.StopDmaLogging();
        else _dirtyLog.Stop();
    }

    /// <summary>
    /// DMA_LOGGING_REPORT: page size a power of two ≥ 4096 (EINVAL), range not wrapping (EOVERFLOW), a
    /// bitmap of at least one bit per page of the range (EINVAL). Bits are only set, never cleared.
    /// </summary>
    public void ReportDmaLogging(ulong iova, ulong length, ulong pageSize, Span<byte> bitmap)
    {
        if (pageSize < 4096 || (pageSize & (pageSize - 1)) != 0) ThrowHelper.Throw(Errno.EINVAL, "bad logging page size");
        if (iova + length < iova) ThrowHelper.Throw(Errno.EOVERFLOW, "report range wraps");
        ulong pages = length / pageSize + (length % pageSize != 0 ? 1ul : 0);
        if ((ulong)bitmap.Length < (pages + 7) / 8) ThrowHelper.Throw(Errno.EINVAL, "report bitmap smaller than the range");
        if (_driver is IVfioDmaLoggingDriver logging) logging.ReportDmaLogging(iova, length, pageSize, bitmap);
        else _dirtyLog.Report(iova, length, pageSize, bitmap);
    }

    private void DisableStreams()
    {
        _saving?.Disable();
        _saving = null;
        _resuming?.Disable();
        _resuming = null;
    }
}
