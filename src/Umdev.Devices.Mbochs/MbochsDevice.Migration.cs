using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.Vfio.Migration;
using F = Umdev.Devices.Mbochs.MbochsMigrationFormat;
using S = Umdev.Vfio.Migration.VfioMigrationState;

namespace Umdev.Devices.Mbochs;

/// <summary>
/// mbochs's migration: the video memory moves page by page, the registers at the end. PRE_COPY sends the
/// memory while the guest keeps drawing into its mapping (which no handler sees): the model's
/// <see cref="VfioPageDirtyTracker"/> finds the pages changed since they were sent, and each PRE_COPY
/// pass sends those; STOP_COPY sends what changed since the last pass, then the registers.
/// </summary>
internal sealed partial class MbochsDevice : IVfioMigrationDriver
{
    public VfioMigrationFlags MigrationFlags => VfioMigrationFlags.StopCopy | VfioMigrationFlags.P2P | VfioMigrationFlags.PreCopy;

    public ulong GetStopCopySize() => F.StreamSize(Type.MemorySize);

    public IVfioMigrationSource StartSaving(in VfioMigrationArc arc) => new SaveSource(this, _vram.StartTracking(F.PageSize), arc.To == S.StopCopy);

    public IVfioMigrationSink StartResuming(in VfioMigrationArc arc) => new ResumeSink(this);

    public void Step(in VfioMigrationArc arc)
    {
        switch (arc.From, arc.To)
        {
            case (S.PreCopyP2P, S.StopCopy):
                ((SaveSource)arc.Source!).EnterStopCopy();
                break;
            case (S.Running, S.RunningP2P) or (S.RunningP2P, S.Running) or (S.RunningP2P, S.Stop) or (S.Stop, S.RunningP2P)
                or (S.PreCopy, S.PreCopyP2P) or (S.PreCopyP2P, S.PreCopy)
                or (S.PreCopy, S.Running) or (S.PreCopyP2P, S.RunningP2P) or (S.StopCopy, S.Stop):
                break; // no DMA to quiesce; the model ends sessions (and so stops the tracking)
            default:
                ThrowHelper.Throw(Errno.EINVAL, $"mbochs has no arc {arc.From} -> {arc.To}");
                break;
        }
    }

    private void SaveRegisters(Span<byte> registers)
    {
        lock (_lock)
        {
            for (int i = 0; i < Dispi.Count; i++) BinaryPrimitives.WriteUInt16LittleEndian(registers[(2 * i)..], _vbe[i]);
            registers.Slice(Dispi.Count * 2, 2).Clear();
            _config.Read(0, registers.Slice(F.DispiSize, MbochsConfigSpace.Size));
            _edid.Save(registers.Slice(F.DispiSize + MbochsConfigSpace.Size, MbochsEdid.StateSize));
        }
    }

    private void LoadRegisters(ReadOnlySpan<byte> registers)
    {
        var edid = registers.Slice(F.DispiSize + MbochsConfigSpace.Size, MbochsEdid.StateSize);
        if (!MbochsEdid.IsValidState(edid)) ThrowHelper.Throw(Errno.EINVAL, "mbochs migration: EDID size past the blob");
        lock (_lock)
        {
            for (int i = 0; i < Dispi.Count; i++) _vbe[i] = BinaryPrimitives.ReadUInt16LittleEndian(registers[(2 * i)..]);
            _config.Store(0, registers.Slice(F.DispiSize, MbochsConfigSpace.Size));
            _edid.Load(edid);
        }
    }

    /// <summary>Produces header, page records (pass by pass in PRE_COPY), then the end record in STOP_COPY.</summary>
    private sealed class SaveSource(MbochsDevice device, VfioPageDirtyTracker tracker, bool stopCopy) : IVfioMigrationSource, IDisposable
    {
        private readonly byte[] _record = new byte[F.TagSize + Math.Max(F.PageSize, F.RegistersSize)];
        private int _filled, _read;
        private bool _headerSent, _stopCopy = stopCopy, _passEnded, _endSent;

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
            _read = 0;
            if (!_headerSent)
            {
                F.WriteHeader(_record, device.Type.MemoryMb);
                _filled = F.HeaderSize;
                _headerSent = true;
                return true;
            }
            if (_passEnded)
            {
                tracker.Scan();
                _passEnded = false;
            }
            long page = tracker.NextPending();
            if (page >= 0)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(_record, (ulong)page);
                _filled = F.TagSize + tracker.Take(page, _record.AsSpan(F.TagSize));
                return true;
            }
            if (!_stopCopy)
            {
                _passEnded = true; // nothing more now: the next read starts the next pass
                _filled = 0;
                return false;
            }
            if (_endSent)
            {
                _filled = 0;
                return false;
            }
            BinaryPrimitives.WriteUInt64LittleEndian(_record, F.EndTag);
            device.SaveRegisters(_record.AsSpan(F.TagSize, F.RegistersSize));
            _filled = F.TagSize + F.RegistersSize;
            _endSent = true;
            return true;
        }

        public VfioPrecopyInfo GetPrecopyInfo()
        {
            // Between passes the guest's drawing since the last one is what there is to tell.
            if (tracker.NextPending() < 0) tracker.Scan();
            const ulong record = F.TagSize + F.PageSize;
            ulong header = _headerSent ? 0ul : F.HeaderSize;
            return new VfioPrecopyInfo(header + (ulong)tracker.UnsentPages * record + (ulong)(_filled - _read),
                (ulong)tracker.DirtyPages * record);
        }

        public void Dispose() => device._vram.StopTracking();
    }

    /// <summary>
    /// Takes the stream as it comes: pages go straight into the memory (the device is stopped), the
    /// registers are checked and applied at RESUMING→STOP. A bad header, a page past the memory or bytes
    /// after the end record fail the write with EINVAL and every later write too.
    /// </summary>
    private sealed class ResumeSink(MbochsDevice device) : IVfioMigrationSink
    {
        private readonly byte[] _head = new byte[F.TagSize + F.RegistersSize];
        private int _headFilled, _pageFilled;
        private long _page = -1;
        private bool _headerSeen, _ended, _broken;

        public void Consume(ReadOnlySpan<byte> data)
        {
            if (_broken) ThrowHelper.Throw(Errno.EINVAL, "mbochs migration stream already refused");
            while (!data.IsEmpty)
            {
                if (_ended) Refuse("bytes after the end record");
                int n;
                if (_page >= 0)
                {
                    n = Math.Min(F.PageSize - _pageFilled, data.Length);
                    data[..n].CopyTo(device._vram.Span((ulong)_page * F.PageSize + (ulong)_pageFilled, n));
                    _pageFilled += n;
                    if (_pageFilled == F.PageSize) _page = -1;
                }
                else
                {
                    int want = !_headerSeen ? F.HeaderSize
                        : _headFilled >= F.TagSize && BinaryPrimitives.ReadUInt64LittleEndian(_head) == F.EndTag ? _head.Length
                        : F.TagSize;
                    n = Math.Min(want - _headFilled, data.Length);
                    data[..n].CopyTo(_head.AsSpan(_headFilled));
                    _headFilled += n;
                    if (_headFilled == want) FieldDone(want);
                }
                data = data[n..];
            }
        }

        private void FieldDone(int length)
        {
            if (!_headerSeen)
            {
                if (!F.IsValidHeader(_head, device.Type.MemoryMb)) Refuse("mbochs migration header mismatch");
                _headerSeen = true;
                _headFilled = 0;
                return;
            }
            if (length == _head.Length)
            {
                _ended = true;
                return;
            }
            ulong tag = BinaryPrimitives.ReadUInt64LittleEndian(_head);
            if (tag == F.EndTag) return; // the registers follow
            if (tag >= device.Type.MemorySize / F.PageSize) Refuse($"mbochs migration page {tag} past the memory");
            _page = (long)tag;
            _pageFilled = 0;
            _headFilled = 0;
        }

        private void Refuse(string message)
        {
            _broken = true;
            ThrowHelper.Throw(Errno.EINVAL, message);
        }

        public void Complete()
        {
            if (!_ended) ThrowHelper.Throw(Errno.EINVAL, "mbochs migration stream ends before its end record");
            device.LoadRegisters(_head.AsSpan(F.TagSize, F.RegistersSize));
        }
    }
}
