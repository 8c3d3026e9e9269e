using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio.Migration;
using F = Umdev.Devices.Mbochs.MbochsMigrationFormat;
using S = Umdev.Vfio.Migration.VfioMigrationState;

namespace Umdev.Devices.Mbochs;

/// <summary>
/// mbochs's migration: the model's paged-memory stream (<see cref="VfioPagedMemorySource"/>) moves the video
/// memory page by page and the registers at the end. PRE_COPY sends the memory while the guest keeps drawing
/// into its mapping (which no handler sees); each pass sends the pages changed since they were sent.
/// </summary>
internal sealed partial class MbochsDevice : IVfioMigrationDriver
{
    public VfioMigrationFlags MigrationFlags => VfioMigrationFlags.StopCopy | VfioMigrationFlags.P2P | VfioMigrationFlags.PreCopy;

    public ulong GetStopCopySize() => VfioPagedMemoryStream.Size(Type.MemorySize, F.PageSize, F.HeaderSize, F.RegistersSize);

    public IVfioMigrationSource StartSaving(in VfioMigrationArc arc)
    {
        Span<byte> header = stackalloc byte[F.HeaderSize];
        F.WriteHeader(header, Type.MemoryMb);
        return new VfioPagedMemorySource(_vram, header, F.RegistersSize, SaveRegisters, arc.To == S.StopCopy, F.PageSize);
    }

    public IVfioMigrationSink StartResuming(in VfioMigrationArc arc) =>
        new VfioPagedMemorySink(_vram, F.HeaderSize, CheckHeader, F.RegistersSize, LoadRegisters, F.PageSize);

    /// <summary>The registers follow the pages; no other arc needs work (no DMA to quiesce; ending a session stops the tracking).</summary>
    void IVfioMigrationDriver.EnterStopCopy(in VfioMigrationArc arc) => ((VfioPagedMemorySource)arc.Source!).EnterStopCopy();

    private void CheckHeader(ReadOnlySpan<byte> header)
    {
        if (!F.IsValidHeader(header, Type.MemoryMb)) ThrowHelper.Throw(Errno.EINVAL, "mbochs migration header mismatch");
    }

    private void SaveRegisters(Span<byte> registers)
    {
        lock (_lock)
        {
            for (int i = 0; i < Dispi.Count; i++) BinaryPrimitives.WriteUInt16LittleEndian(registers[(2 * i)..], _vbe[i]);
            registers.Slice(Dispi.Count * 2, 2).Clear();
            _config.CopyTo(registers.Slice(F.DispiSize, MbochsConfigSpace.Size));
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
            _config.Restore(registers.Slice(F.DispiSize, MbochsConfigSpace.Size));
            _edid.Load(edid);
        }
    }
}
