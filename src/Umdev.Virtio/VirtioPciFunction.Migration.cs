using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio.Migration;
using S = Umdev.Vfio.Migration.VfioMigrationState;

namespace Umdev.Virtio;

/// <summary>
/// Migration (STOP_COPY): STOP drains the queues (no request in progress, none started), the stream
/// carries the transport state — status, features, selectors, vectors, ISR and for each queue its
/// size, enable, vector, ring addresses and indices — then the device type's own bytes. A resumed
/// function's queues continue from those indices once the device runs again.
/// </summary>
public abstract partial class VirtioPciFunction : IVfioMigrationDriver
{
    private const uint StateMagic = 0x4f495655; // "UVIO"
    private const ushort StateVersion = 1;
    private const int HeaderSize = 40, QueueRecordSize = 40;

    /// <summary>Bytes of device-specific state appended to the transport's (0 unless overridden).</summary>
    protected virtual int DeviceStateSize => 0;

    /// <summary>Writes the device's own state (<see cref="DeviceStateSize"/> bytes), with the queues stopped.</summary>
    protected virtual void SaveDeviceState(Span<byte> destination) { }

    /// <summary>Checks the device's own state before anything is applied; throw EINVAL to refuse the stream.</summary>
    protected virtual void ValidateDeviceState(ReadOnlySpan<byte> source) { }

    /// <summary>Applies the device's own state (already validated).</summary>
    protected virtual void LoadDeviceState(ReadOnlySpan<byte> source) { }

    private int StateSize => HeaderSize + QueueRecordSize * _queues.Length + DeviceStateSize;

    /// <inheritdoc/>
    public VfioMigrationFlags MigrationFlags => VfioMigrationFlags.StopCopy;

    /// <inheritdoc/>
    public ulong GetStopCopySize() => (ulong)StateSize;

    /// <inheritdoc/>
    public IVfioMigrationSource StartSaving(in VfioMigrationArc arc)
    {
        var state = new byte[StateSize];
        lock (_lock) Save(state);
        var source = new VfioMigrationBufferSource(state.Length);
        source.Append(state);
        return source;
    }

    /// <inheritdoc/>
    public IVfioMigrationSink StartResuming(in VfioMigrationArc arc) => new ResumeSink(this);

    /// <summary>RUNNING → STOP: the queues drain and take no more requests.</summary>
    void IVfioMigrationDriver.Quiesce(in VfioMigrationArc arc) => Freeze();

    /// <summary>STOP → RUNNING.</summary>
    void IVfioMigrationDriver.Resume(in VfioMigrationArc arc) => Thaw();

    private void Save(Span<byte> s)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(s, StateMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(s[4..], StateVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(s[6..], (ushort)_queues.Length);
        s[8] = (byte)Status;
        lock (_isrLock) s[10] = _isr;
        BinaryPrimitives.WriteUInt32LittleEndian(s[12..], _deviceFeatureSelect);
        BinaryPrimitives.WriteUInt32LittleEndian(s[16..], _driverFeatureSelect);
        BinaryPrimitives.WriteUInt64LittleEndian(s[20..], _driverFeatures);
        BinaryPrimitives.WriteUInt16LittleEndian(s[28..], _queueSelect);
        BinaryPrimitives.WriteUInt16LittleEndian(s[30..], _configVector);
        BinaryPrimitives.WriteInt32LittleEndian(s[32..], DeviceStateSize);
        for (int i = 0; i < _queues.Length; i++)
        {
            var q = _queues[i];
            var r = s.Slice(HeaderSize + i * QueueRecordSize, QueueRecordSize);
            BinaryPrimitives.WriteUInt16LittleEndian(r, q.Size);
            r[2] = q.Enabled ? (byte)1 : (byte)0;
            BinaryPrimitives.WriteUInt16LittleEndian(r[4..], q.MsixVector);
            BinaryPrimitives.WriteUInt16LittleEndian(r[6..], q.LastAvailIndex);
            BinaryPrimitives.WriteUInt16LittleEndian(r[8..], q.UsedIndex);
            BinaryPrimitives.WriteUInt64LittleEndian(r[16..], q.DescAddress);
            BinaryPrimitives.WriteUInt64LittleEndian(r[24..], q.DriverAddress);
            BinaryPrimitives.WriteUInt64LittleEndian(r[32..], q.DeviceAddress);
        }
        SaveDeviceState(s[(HeaderSize + QueueRecordSize * _queues.Length)..]);
    }

    /// <summary>RESUMING → STOP: the whole stream is checked before anything changes (EINVAL, the device stays RESUMING).</summary>
    private void Load(ReadOnlySpan<byte> s)
    {
        if (s.Length != StateSize) ThrowHelper.Throw(Errno.EINVAL, $"virtio state of {s.Length} bytes, expected {StateSize}");
        if (BinaryPrimitives.ReadUInt32LittleEndian(s) != StateMagic || BinaryPrimitives.ReadUInt16LittleEndian(s[4..]) != StateVersion)
            ThrowHelper.Throw(Errno.EINVAL, "not a virtio state stream of this version");
        if (BinaryPrimitives.ReadUInt16LittleEndian(s[6..]) != _queues.Length || BinaryPrimitives.ReadInt32LittleEndian(s[32..]) != DeviceStateSize)
            ThrowHelper.Throw(Errno.EINVAL, "virtio state of another device kind");
        var status = (VirtioStatus)s[8];
        ulong features = BinaryPrimitives.ReadUInt64LittleEndian(s[20..]);
        if ((features & ~OfferedFeatures) != 0) ThrowHelper.Throw(Errno.EINVAL, "virtio state with features this device does not offer");
        var probe = new SplitVirtqueue(0, _queues[0].MaxSize);
        for (int i = 0; i < _queues.Length; i++)
        {
            var r = s.Slice(HeaderSize + i * QueueRecordSize, QueueRecordSize);
            LoadQueue(probe, r);
            if (r[2] > 1 || (r[2] == 1 && probe.Validate() is { } error))
                ThrowHelper.Throw(Errno.EINVAL, $"virtio state: queue {i} is not usable");
        }
        var device = s[(HeaderSize + QueueRecordSize * _queues.Length)..];
        ValidateDeviceState(device);

        lock (_lock)
        {
            DeviceReset();
            for (int i = 0; i < _queues.Length; i++) LoadQueue(_queues[i], s.Slice(HeaderSize + i * QueueRecordSize, QueueRecordSize));
            lock (_isrLock) _isr = (byte)(s[10] & (IsrQueue | IsrConfig));
            _deviceFeatureSelect = BinaryPrimitives.ReadUInt32LittleEndian(s[12..]);
            _driverFeatureSelect = BinaryPrimitives.ReadUInt32LittleEndian(s[16..]);
            Volatile.Write(ref _driverFeatures, features);
            _queueSelect = BinaryPrimitives.ReadUInt16LittleEndian(s[28..]);
            _configVector = CheckVector(BinaryPrimitives.ReadUInt16LittleEndian(s[30..]));
            ApplyRingFeatures(features);
            LoadDeviceState(device);
            Volatile.Write(ref _status, (int)status);
            if ((status & (VirtioStatus.DriverOk | VirtioStatus.DeviceNeedsReset)) == VirtioStatus.DriverOk) StartWorkers();
        }
    }

    private void LoadQueue(SplitVirtqueue q, ReadOnlySpan<byte> r)
    {
        q.Size = BinaryPrimitives.ReadUInt16LittleEndian(r);
        q.Enabled = r[2] == 1;
        q.MsixVector = CheckVector(BinaryPrimitives.ReadUInt16LittleEndian(r[4..]));
        q.LastAvailIndex = BinaryPrimitives.ReadUInt16LittleEndian(r[6..]);
        q.UsedIndex = BinaryPrimitives.ReadUInt16LittleEndian(r[8..]);
        q.DescAddress = BinaryPrimitives.ReadUInt64LittleEndian(r[16..]);
        q.DriverAddress = BinaryPrimitives.ReadUInt64LittleEndian(r[24..]);
        q.DeviceAddress = BinaryPrimitives.ReadUInt64LittleEndian(r[32..]);
    }

    private sealed class ResumeSink(VirtioPciFunction function) : VfioMigrationBufferSink(function.StateSize)
    {
        protected override void Load(ReadOnlySpan<byte> data) => function.Load(data);
    }
}
