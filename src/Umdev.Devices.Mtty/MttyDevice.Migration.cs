using Umdev.Interop;
using Umdev.Vfio.Migration;
using S = Umdev.Vfio.Migration.VfioMigrationState;

namespace Umdev.Devices.Mtty;

/// <summary>
/// mtty's migration arcs (mtty.md §11.3); the VFIO model walks the table and owns the sessions. The state
/// is 60 or 96 bytes, so both sides keep it in the model's small-state buffers.
/// </summary>
internal sealed partial class MttyDevice : IVfioMigrationDriver
{
    /// <summary>Ports a migration record holds, whatever the type (the sample's stream format).</summary>
    private const int PortSlots = 2;

    public VfioMigrationFlags MigrationFlags => VfioMigrationFlags.StopCopy | VfioMigrationFlags.P2P | VfioMigrationFlags.PreCopy;

    public ulong GetStopCopySize() => (ulong)MttyMigrationFormat.StreamSize(NumPorts);

    /// <summary>PRE_COPY offers the header; STOP_COPY the header (unless already offered) and the ports.</summary>
    public IVfioMigrationSource StartSaving(in VfioMigrationArc arc)
    {
        var source = new VfioMigrationBufferSource(MttyMigrationFormat.StreamSize(NumPorts));
        Span<byte> header = stackalloc byte[MttyMigrationFormat.HeaderSize];
        MttyMigrationFormat.WriteHeader(header, NumPorts);
        source.Append(header);
        if (arc.To == S.StopCopy) AppendPorts(source);
        return source;
    }

    public IVfioMigrationSink StartResuming(in VfioMigrationArc arc) => new ResumeSink(this);

    /// <summary>PRE_COPY_P2P → STOP_COPY: the ports follow the header already offered. No other arc needs work: mtty does no DMA.</summary>
    void IVfioMigrationDriver.EnterStopCopy(in VfioMigrationArc arc) => AppendPorts((VfioMigrationBufferSource)arc.Source!);

    private void AppendPorts(VfioMigrationBufferSource source)
    {
        Span<byte> records = stackalloc byte[MttyUartPort.RecordSize * PortSlots];
        records = records[..(MttyUartPort.RecordSize * NumPorts)];
        lock (_lock)
        {
            for (int i = 0; i < NumPorts; i++) _ports[i].Save(records.Slice(i * MttyUartPort.RecordSize, MttyUartPort.RecordSize));
        }
        source.Append(records);
    }

    /// <summary>The resuming side: at most one stream's worth of bytes (ENOMEM past it, nothing taken).</summary>
    private sealed class ResumeSink(MttyDevice device) : VfioMigrationBufferSink(MttyMigrationFormat.StreamSize(device.NumPorts))
    {
        /// <summary>
        /// The kernel checks the header once, on the write that completes it, and fails that write with
        /// EFAULT (the bytes stay written).
        /// </summary>
        protected override void OnWrite(ReadOnlySpan<byte> written, int previousLength)
        {
            if (previousLength < MttyMigrationFormat.HeaderSize && written.Length >= MttyMigrationFormat.HeaderSize &&
                !MttyMigrationFormat.IsValidHeader(written, device.NumPorts))
                ThrowHelper.Throw(Errno.EFAULT, "mtty migration header mismatch");
        }

        protected override void Load(ReadOnlySpan<byte> data) => device.Load(data);
    }

    /// <summary>
    /// RESUMING → STOP. Too few bytes: EINVAL, the device stays RESUMING (as the kernel).
    /// Fix (mtty.md §13 note 16): the sample checks the header only on the write that completes it and
    /// loads anyway if the writer ignored that EFAULT; here a bad header (magic, version, flags, port
    /// count) or a port record that would break the UART's invariants also fails the load with EINVAL,
    /// before any port is touched, and the device stays RESUMING.
    /// </summary>
    private void Load(ReadOnlySpan<byte> data)
    {
        if (data.Length < MttyMigrationFormat.StreamSize(NumPorts))
            ThrowHelper.Throw(Errno.EINVAL, $"mtty migration data truncated ({data.Length} bytes)");
        if (!MttyMigrationFormat.IsValidHeader(data, NumPorts))
            ThrowHelper.Throw(Errno.EINVAL, "mtty migration header mismatch");
        var records = data[MttyMigrationFormat.HeaderSize..];
        for (int i = 0; i < NumPorts; i++)
            if (!MttyUartPort.IsValidRecord(records.Slice(i * MttyUartPort.RecordSize, MttyUartPort.RecordSize)))
                ThrowHelper.Throw(Errno.EINVAL, $"mtty migration record of port {i} is corrupt");
        lock (_lock)
        {
            for (int i = 0; i < NumPorts; i++) _ports[i].Load(records.Slice(i * MttyUartPort.RecordSize, MttyUartPort.RecordSize));
            UpdateLevel(); // a condition pending in the loaded state keeps the line asserted
        }
    }
}
