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

    internal VfioMigration(IVfioMigrationDriver driver)
    {
        if ((driver.MigrationFlags & VfioMigrationFlags.StopCopy) == 0)
            throw new ArgumentException("a migration driver must support STOP_COPY", nameof(driver));
        _driver = driver;
    }

    public VfioMigrationFlags Flags => _driver.MigrationFlags;

    public S State => _state;

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
            {
                var stream = new VfioMigrationSaveStream();
                try
                {
                    _driver.Step(new VfioMigrationArc(from, to, stream, default));
                }
                catch
                {
                    stream.Disable();
                    throw;
                }
                _saving = stream;
                return stream;
            }
            case (S.Stop, S.Resuming):
                _driver.Step(new VfioMigrationArc(from, to, null, default));
                _resuming = new VfioMigrationResumeStream(_driver);
                return _resuming;
            case (S.Resuming, S.Stop):
                if (_resuming is null) ThrowHelper.Throw(Errno.EINVAL, "no resuming session");
                _resuming.Load(this, static (self, data) => self._driver.Step(new VfioMigrationArc(S.Resuming, S.Stop, null, data)));
                DisableStreams();
                return null;
            case (S.PreCopy, S.Running) or (S.PreCopyP2P, S.RunningP2P) or (S.StopCopy, S.Stop):
                _driver.Step(new VfioMigrationArc(from, to, _saving, default));
                DisableStreams();
                return null;
            default:
                _driver.Step(new VfioMigrationArc(from, to, _saving, default));
                return null;
        }
    }

    /// <summary>VFIO_DEVICE_RESET: back to RUNNING, every session ended.</summary>
    public void Reset()
    {
        lock (_stateLock)
        {
            _state = S.Running;
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
            return new VfioPrecopyInfo(stream.Pending, 0);
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
    /// ranges (EINVAL / E2BIG), each aligned to the page size (EINVAL), not wrapping (EOVERFLOW) and not
    /// overlapping another (EINVAL). Returns the page size the device logs with.
    /// </summary>
    public ulong StartDmaLogging(ulong pageSize, ReadOnlySpan<VfioDmaLoggingRange> ranges)
    {
        if (ranges.Length == 0) ThrowHelper.Throw(Errno.EINVAL, "no logging ranges");
        if (ranges.Length > MaxLoggingRanges) ThrowHelper.Throw(Errno.E2BIG, "too many logging ranges");
        var sorted = new (ulong First, ulong Last)[ranges.Length];
        for (int i = 0; i < ranges.Length; i++)
        {
            var r = ranges[i];
            if ((r.Iova & (pageSize - 1)) != 0 || (r.Length & (pageSize - 1)) != 0)
                ThrowHelper.Throw(Errno.EINVAL, "logging range not page aligned");
            if (r.Iova + r.Length < r.Iova) ThrowHelper.Throw(Errno.EOVERFLOW, "logging range wraps");
            sorted[i] = (r.Iova, r.Iova + r.Length - 1);
        }
        Array.Sort(sorted);
        for (int i = 1; i < sorted.Length; i++)
            if (sorted[i].First <= sorted[i - 1].Last) ThrowHelper.Throw(Errno.EINVAL, "logging ranges overlap");
        return _driver is IVfioDmaLoggingDriver logging ? logging.StartDmaLogging(pageSize, ranges) : pageSize;
    }

    public void StopDmaLogging()
    {
        if (_driver is IVfioDmaLoggingDriver logging) logging.StopDmaLogging();
    }

    /// <summary>DMA_LOGGING_REPORT: page size a power of two ≥ 4096 (EINVAL), range not wrapping (EOVERFLOW).</summary>
    public void ReportDmaLogging(ulong iova, ulong length, ulong pageSize, Span<byte> bitmap)
    {
        if (pageSize < 4096 || (pageSize & (pageSize - 1)) != 0) ThrowHelper.Throw(Errno.EINVAL, "bad logging page size");
        if (iova + length < iova) ThrowHelper.Throw(Errno.EOVERFLOW, "report range wraps");
        if (_driver is IVfioDmaLoggingDriver logging) logging.ReportDmaLogging(iova, length, pageSize, bitmap);
    }

    private void DisableStreams()
    {
        _saving?.Disable();
        _saving = null;
        _resuming?.Disable();
        _resuming = null;
    }
}
