using System.Buffers.Binary;
using Umdev.Vfio.Migration;
using S = Umdev.Vfio.Migration.VfioMigrationState;

namespace Umdev.Vfio.Tests;

/// <summary>
/// A migrating device whose state is a large memory a VMM would map and write directly (region 0, a
/// <see cref="VfioMemoryRegion"/>, as a display's) plus one register, moved with the model's paged-memory
/// stream (<see cref="VfioPagedMemorySource"/>/<see cref="VfioPagedMemorySink"/>) with no header: one record
/// per page sent — u64 page number, the page's bytes — then the end record (u64 all ones, u64 register).
/// Both sides note the bytes their thread allocated during the session.
/// </summary>
internal sealed class BulkMemoryOps : IVfioDeviceOps, IVfioMigrationDriver, IVfioDmaUnmapListener
{
    public const int PageSize = 4096;
    public const ulong EndTag = VfioPagedMemoryStream.EndTag;
    private const int RegisterSize = 8;
    private readonly VfioMemoryRegion _memory;

    public BulkMemoryOps(int size)
    {
        _memory = new VfioMemoryRegion(0, (ulong)size, name: "bulk");
        Layout = new VfioDeviceLayout { NumRegions = 1, Regions = [_memory] };
    }

    public string Name => "bulk";
    public VfioDeviceLayout Layout { get; }

    /// <summary>The memory as a VMM's mapping shows it: writes here are found only by the tracker's scan.</summary>
    // The access is never ended: the tests never unregister this device, so its memory lives as long as they do.
    public Span<byte> Memory => _memory.Access(0, (int)_memory.Size).Span;
    public ulong Register { get; set; }

    /// <summary>Bytes the saving session's thread allocated from its start to the end of its stream.</summary>
    public long? SavingAllocated { get; private set; }

    /// <summary>Bytes the resuming session's thread allocated from its start to the load.</summary>
    public long? ResumingAllocated { get; private set; }

    public VfioMigrationFlags MigrationFlags => VfioMigrationFlags.StopCopy | VfioMigrationFlags.PreCopy;

    public ulong GetStopCopySize() => VfioPagedMemoryStream.Size(_memory.Size, PageSize, 0, RegisterSize);

    public IVfioMigrationSource StartSaving(in VfioMigrationArc arc) =>
        new MeasuredSource(this, new VfioPagedMemorySource(_memory, [], RegisterSize,
            record => BinaryPrimitives.WriteUInt64LittleEndian(record, Register), arc.To == S.StopCopy, PageSize));

    public IVfioMigrationSink StartResuming(in VfioMigrationArc arc)
    {
        long start = GC.GetAllocatedBytesForCurrentThread();
        return new VfioPagedMemorySink(_memory, 0, _ => { }, RegisterSize, record =>
        {
            Register = BinaryPrimitives.ReadUInt64LittleEndian(record);
            ResumingAllocated = GC.GetAllocatedBytesForCurrentThread() - start;
        }, PageSize);
    }

    public void EnterStopCopy(in VfioMigrationArc arc) => ((MeasuredSource)arc.Source!).Inner.EnterStopCopy();

    public void DmaUnmap(ulong iova, ulong length) { }

    private sealed class MeasuredSource(BulkMemoryOps device, VfioPagedMemorySource inner) : IVfioMigrationSource, IDisposable
    {
        private readonly long _start = GC.GetAllocatedBytesForCurrentThread();

        public VfioPagedMemorySource Inner => inner;

        public int Produce(Span<byte> destination)
        {
            int n = inner.Produce(destination);
            if (n == 0) device.SavingAllocated = GC.GetAllocatedBytesForCurrentThread() - _start;
            return n;
        }

        public VfioPrecopyInfo GetPrecopyInfo() => inner.GetPrecopyInfo();

        public void Dispose() => inner.Dispose();
    }
}
