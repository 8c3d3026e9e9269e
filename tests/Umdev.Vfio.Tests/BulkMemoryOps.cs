using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio.Migration;
using S = Umdev.Vfio.Migration.VfioMigrationState;

namespace Umdev.Vfio.Tests;

/// <summary>
/// A migrating device whose state is a large memory a VMM would map and write directly (as a display's),
/// plus one register. Its stream: one record per page to send — u64 page number, the page's bytes — from a
/// <see cref="VfioPageDirtyTracker"/>, each PRE_COPY pass sending the pages changed since the last one; in
/// STOP_COPY the pages still changed, then an end record (u64 all ones, u64 register). The resuming side
/// writes pages into memory as they arrive. Both sides note the bytes their thread allocated during the session.
/// </summary>
internal sealed class BulkMemoryOps : FakeOps, IVfioMigrationDriver, IVfioDmaUnmapListener
{
    public const int PageSize = 4096;
    public const ulong EndTag = ulong.MaxValue;

    public BulkMemoryOps(int size)
    {
        Memory = new byte[size];
        Tracker = new VfioPageDirtyTracker(new VfioTrackedMemory(Memory), PageSize);
    }

    public byte[] Memory { get; }
    public ulong Register { get; set; }
    public VfioPageDirtyTracker Tracker { get; }

    /// <summary>Bytes the saving session's thread allocated from its start to the end of its stream.</summary>
    public long? SavingAllocated { get; private set; }

    /// <summary>Bytes the resuming session's thread allocated from its start to the load.</summary>
    public long? ResumingAllocated { get; private set; }

    public VfioMigrationFlags MigrationFlags => VfioMigrationFlags.StopCopy | VfioMigrationFlags.PreCopy;

    public ulong GetStopCopySize() => (ulong)(Tracker.PageCount * 8 + Memory.Length + 16);

    public IVfioMigrationSource StartSaving(in VfioMigrationArc arc)
    {
        var source = new Source(this, arc.To == S.StopCopy);
        Tracker.Restart();
        return source;
    }

    public IVfioMigrationSink StartResuming(in VfioMigrationArc arc) => new Sink(this);

    public void Step(in VfioMigrationArc arc)
    {
        if (arc.To == S.StopCopy) ((Source)arc.Source!).EnterStopCopy();
    }

    public void DmaUnmap(ulong iova, ulong length) { }

    private sealed class Source(BulkMemoryOps device, bool stopCopy) : IVfioMigrationSource
    {
        private readonly long _allocatedAtStart = GC.GetAllocatedBytesForCurrentThread();
        private readonly byte[] _record = new byte[8 + PageSize];
        private int _filled, _read;
        private bool _stopCopy = stopCopy, _passEnded, _endSent;

        public void EnterStopCopy()
        {
            _stopCopy = true;
            _passEnded = true; // the last pass: whatever changed since the previous one
        }

        public int Produce(Span<byte> destination)
        {
            if (_read == _filled && !NextRecord()) return 0;
            int n = Math.Min(_filled - _read, destination.Length);
            _record.AsSpan(_read, n).CopyTo(destination);
            _read += n;
            return n;
        }

        private bool NextRecord()
        {
            if (_passEnded)
            {
                device.Tracker.Scan();
                _passEnded = false;
            }
            long page = device.Tracker.NextPending();
            if (page >= 0)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(_record, (ulong)page);
                _filled = 8 + device.Tracker.Take(page, _record.AsSpan(8));
            }
            else if (!_stopCopy)
            {
                _passEnded = true; // no more now: the next read starts the next pass
                return false;
            }
            else if (!_endSent)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(_record, EndTag);
                BinaryPrimitives.WriteUInt64LittleEndian(_record.AsSpan(8), device.Register);
                _filled = 16;
                _endSent = true;
            }
            else
            {
                device.SavingAllocated = GC.GetAllocatedBytesForCurrentThread() - _allocatedAtStart;
                return false;
            }
            _read = 0;
            return true;
        }

        public VfioPrecopyInfo GetPrecopyInfo()
        {
            if (_passEnded) device.Tracker.Scan();
            _passEnded = false;
            ulong record = 8 + PageSize;
            return new VfioPrecopyInfo((ulong)device.Tracker.UnsentPages * record + (ulong)(_filled - _read),
                (ulong)device.Tracker.DirtyPages * record);
        }
    }

    private sealed class Sink(BulkMemoryOps device) : IVfioMigrationSink
    {
        private readonly long _allocatedAtStart = GC.GetAllocatedBytesForCurrentThread();
        private readonly byte[] _head = new byte[16];
        private int _headFilled, _pageFilled;
        private long _page = -1;
        private bool _ended, _broken;

        public void Consume(ReadOnlySpan<byte> data)
        {
            while (!data.IsEmpty)
            {
                if (_ended) ThrowHelper.Throw(Errno.EINVAL, "bytes after the end record");
                if (_broken) ThrowHelper.Throw(Errno.EINVAL, "stream already refused");
                int n;
                if (_page >= 0)
                {
                    int length = device.Tracker.PageLength(_page);
                    n = Math.Min(length - _pageFilled, data.Length);
                    data[..n].CopyTo(device.Memory.AsSpan((int)(_page * PageSize) + _pageFilled));
                    _pageFilled += n;
                    if (_pageFilled == length) _page = -1;
                }
                else
                {
                    int want = _headFilled >= 8 && BinaryPrimitives.ReadUInt64LittleEndian(_head) == EndTag ? 16 : 8;
                    n = Math.Min(want - _headFilled, data.Length);
                    data[..n].CopyTo(_head.AsSpan(_headFilled));
                    _headFilled += n;
                    if (_headFilled == 8) Tag(BinaryPrimitives.ReadUInt64LittleEndian(_head));
                    else if (_headFilled == 16) _ended = true;
                }
                data = data[n..];
            }
        }

        private void Tag(ulong tag)
        {
            if (tag == EndTag) return;
            _broken = tag >= (ulong)device.Tracker.PageCount;
            if (_broken) ThrowHelper.Throw(Errno.EINVAL, $"page {tag} past the memory");
            _page = (long)tag;
            _pageFilled = 0;
            _headFilled = 0;
        }

        public void Complete()
        {
            if (!_ended) ThrowHelper.Throw(Errno.EINVAL, "stream ends before its end record");
            device.Register = BinaryPrimitives.ReadUInt64LittleEndian(_head.AsSpan(8));
            device.ResumingAllocated = GC.GetAllocatedBytesForCurrentThread() - _allocatedAtStart;
        }
    }
}
