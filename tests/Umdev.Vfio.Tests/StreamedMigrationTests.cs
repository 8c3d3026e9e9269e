using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio.Migration;
using S = Umdev.Vfio.Migration.VfioMigrationState;

namespace Umdev.Vfio.Tests;

/// <summary>Streams far larger than any buffer, PRE_COPY iterations over dirty pages, and the model's DMA dirty log.</summary>
public class StreamedMigrationTests
{
    private const int Record = 8 + BulkMemoryOps.PageSize;

    private static void Fill(Span<byte> memory, int seed)
    {
        var random = new Random(seed);
        random.NextBytes(memory);
    }

    [Fact]
    public void A_64_MiB_device_moves_in_process_with_bounded_memory()
    {
        const int size = 64 << 20;
        var sourceOps = new BulkMemoryOps(size) { Register = 0x1122334455667788 };
        Fill(sourceOps.Memory, 1);
        var targetOps = new BulkMemoryOps(size);
        using var source = FakeDriver.Open(() => sourceOps);
        using var target = FakeDriver.Open(() => targetOps);
        var buffer = new byte[64 * 1024];

        long before = GC.GetAllocatedBytesForCurrentThread();
        using var saving = source.SetDeviceState(S.StopCopy)!;
        using var resuming = target.SetDeviceState(S.Resuming)!;
        ulong moved = 0;
        int n;
        while ((n = saving.Read(buffer)) > 0)
        {
            // No Assert in the loop: xunit's comparers allocate.
            if (resuming.Write(buffer.AsSpan(0, n)) != n) throw new InvalidOperationException("short write");
            moved += (ulong)n;
        }
        target.SetDeviceState(S.Running);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal((ulong)(size / BulkMemoryOps.PageSize) * Record + 16, moved);
        Assert.True(allocated < 256 << 10, $"{allocated} bytes allocated to move {moved}");
        Assert.True(sourceOps.Memory.SequenceEqual(targetOps.Memory));
        Assert.Equal(0x1122334455667788ul, targetOps.Register);
        Assert.Equal(S.Running, target.GetDeviceState());
    }

    /// <summary>Reads one PRE_COPY pass (until a read returns 0) and splits it into page records.</summary>
    private static List<(long Page, byte[] Bytes)> ReadPass(VfioMigrationDataFile file, List<byte> all)
    {
        var pass = new List<byte>();
        var chunk = new byte[3000]; // records straddle reads on purpose
        int n;
        while ((n = file.Read(chunk)) > 0) pass.AddRange(chunk.AsSpan(0, n).ToArray());
        all.AddRange(pass);
        return Records([.. pass]);
    }

    private static List<(long Page, byte[] Bytes)> Records(byte[] stream, int size = Size)
    {
        var records = new List<(long, byte[])>();
        for (int at = 0; at < stream.Length;)
        {
            ulong tag = BinaryPrimitives.ReadUInt64LittleEndian(stream.AsSpan(at));
            int length = tag == BulkMemoryOps.EndTag ? 8 : Math.Min(BulkMemoryOps.PageSize, size - (int)tag * BulkMemoryOps.PageSize);
            records.Add((tag == BulkMemoryOps.EndTag ? -1 : (long)tag, stream.AsSpan(at + 8, length).ToArray()));
            at += 8 + length;
        }
        return records;
    }

    private const int Size = (1 << 20) + 100; // 257 pages, the last one short
    private const int Pages = 257;

    [Fact]
    public void Pre_copy_iterations_deliver_only_the_pages_written_since_the_last_pass()
    {
        var ops = new BulkMemoryOps(Size) { Register = 42 };
        Fill(ops.Memory, 2);
        using var file = FakeDriver.Open(() => ops);
        var stream = new List<byte>();
        using var data = file.SetDeviceState(S.PreCopy)!;
        Assert.Equal(new VfioPrecopyInfo((ulong)(Pages * Record), 0), data.GetPrecopyInfo()); // the driver counts whole records

        var first = ReadPass(data, stream);
        Assert.Equal(Enumerable.Range(0, Pages).Select(i => (long)i), first.Select(r => r.Page));
        Assert.Equal(100, first[^1].Bytes.Length);
        Assert.Equal(new VfioPrecopyInfo(0, 0), data.GetPrecopyInfo());
        Assert.Empty(ReadPass(data, stream));                 // nothing changed: an empty pass

        // The VMM writes the mapped memory directly: the model sees nothing, the next scan does.
        ops.Memory[7 * BulkMemoryOps.PageSize + 10] ^= 0xFF;
        ops.Memory[Size - 1] ^= 0xFF;
        Assert.Equal(new VfioPrecopyInfo(0, 2 * Record), data.GetPrecopyInfo());
        var second = ReadPass(data, stream);
        Assert.Equal([7L, 256L], second.Select(r => r.Page));
        Assert.Equal(ops.Memory.Slice(7 * BulkMemoryOps.PageSize, BulkMemoryOps.PageSize).ToArray(), second[0].Bytes);

        // A write that comes as a region write is marked as it happens, even one that changes nothing;
        // rewriting the bytes sent through the mapping is no change.
        file.WriteRegion(0, 9 * BulkMemoryOps.PageSize + 5, [ops.Memory[9 * BulkMemoryOps.PageSize + 5]]);
        ops.Memory[3 * BulkMemoryOps.PageSize] ^= 0x01;
        ops.Memory[3 * BulkMemoryOps.PageSize] ^= 0x01;
        Assert.Equal([9L], ReadPass(data, stream).Select(r => r.Page));

        ops.Memory[100 * BulkMemoryOps.PageSize] ^= 0x55;
        ops.Register = 43;
        Assert.Null(file.SetDeviceState(S.StopCopy));
        int before = stream.Count;
        var rest = ReadPass(data, stream);
        Assert.Equal([100L, -1L], rest.Select(r => r.Page));
        Assert.Equal(43ul, BinaryPrimitives.ReadUInt64LittleEndian(rest[1].Bytes));
        Assert.Equal(0, data.Read(new byte[16]));
        Assert.True(stream.Count - before < 2 * Record);

        // Replaying every pass in order rebuilds the memory exactly.
        var targetOps = new BulkMemoryOps(Size);
        using var target = FakeDriver.Open(() => targetOps);
        using (var resuming = target.SetDeviceState(S.Resuming)!)
            for (int at = 0; at < stream.Count; at += 5000)
                resuming.Write(stream.Skip(at).Take(5000).ToArray());
        target.SetDeviceState(S.Running);
        Assert.True(ops.Memory.SequenceEqual(targetOps.Memory));
        Assert.Equal(43ul, targetOps.Register);
    }

    [Fact]
    public void A_bad_stream_fails_the_write_or_the_load()
    {
        var ops = new BulkMemoryOps(Size);
        using var file = FakeDriver.Open(() => ops);
        using (var resuming = file.SetDeviceState(S.Resuming)!)
        {
            var bad = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(bad, Pages);
            Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => resuming.Write(bad)).Errno);
        }
        file.Reset();
        using (var resuming = file.SetDeviceState(S.Resuming)!)
        {
            resuming.Write(new byte[8 + BulkMemoryOps.PageSize]);  // page 0, no end record
            Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => file.SetDeviceState(S.Stop)).Errno);
            Assert.Equal(S.Resuming, file.GetDeviceState());
        }
    }

    private sealed class ArrayDmaMemory(int size) : VfioDmaMemory
    {
        public byte[] Bytes { get; } = new byte[size];
        public override void Read(ulong offset, Span<byte> destination) => Bytes.AsSpan((int)offset, destination.Length).CopyTo(destination);
        public override void Write(ulong offset, ReadOnlySpan<byte> source) => source.CopyTo(Bytes.AsSpan((int)offset));
        public override void Dispose() { }
    }

    private static byte[] Report(VfioDeviceFile file, ulong iova, ulong length, ulong pageSize = 4096)
    {
        var bitmap = new byte[(length / pageSize + 7) / 8];
        file.ReportDmaLogging(iova, length, pageSize, bitmap);
        return bitmap;
    }

    [Fact]
    public void Dma_logging_reports_the_pages_the_device_wrote_through_the_dma_table()
    {
        const ulong Base = 0x100000;
        var ops = new BulkMemoryOps(4096);
        using var file = FakeDriver.Open(() => ops);
        var device = file.Device;
        var table = device.AttachDma();
        table.Map(Base, 0x10000, VfioDmaProtection.Read | VfioDmaProtection.Write, new ArrayDmaMemory(0x10000));

        device.DmaWrite(Base, [1]);                           // before logging: not logged
        Assert.Equal(4096ul, file.StartDmaLogging(4096, [new VfioDmaLoggingRange(Base, 0x8000)]));
        device.DmaWrite(Base, [1]);                           // dropped by the restart below
        Assert.Equal(4096ul, file.StartDmaLogging(4096, [new VfioDmaLoggingRange(Base, 0x8000)]));
        device.DmaWrite(Base + 0x1005, [1, 2, 3]);            // page 1
        device.DmaWrite(Base + 0x2FFE, [1, 2, 3, 4]);         // pages 2 and 3
        device.DmaWrite(Base + 0x9000, [1]);                  // outside the logged range
        device.DmaRead(Base + 0x5000, new byte[16]);          // a read dirties nothing
        using (var pin = device.PinPages(Base + 0x6000, 16, VfioDmaDirection.FromDevice)) { }
        using (var pin = device.PinPages(Base + 0x7000, 16, VfioDmaDirection.ToDevice)) { }
        Assert.Equal(new byte[] { 0b0100_1110, 0 }, Report(file, Base, 0x10000));
        Assert.Equal(new byte[] { 0, 0 }, Report(file, Base, 0x10000));   // reported pages are cleared

        // A live write pin counts as written at every report, and once more after it is unpinned.
        var live = device.PinPages(Base + 0x4000, 4096, VfioDmaDirection.Bidirectional);
        Assert.Equal(new byte[] { 0b1_0000 }, Report(file, Base, 0x8000));
        Assert.Equal(new byte[] { 0b1_0000 }, Report(file, Base, 0x8000));
        live.Dispose();
        Assert.Equal(new byte[] { 0b1_0000 }, Report(file, Base, 0x8000));
        Assert.Equal(new byte[] { 0 }, Report(file, Base, 0x8000));

        // Larger report pages; a range that covers a logged page only in part leaves it logged.
        device.DmaWrite(Base + 0x3000, [9]);
        Assert.Equal(new byte[] { 0b10 }, Report(file, Base, 0x8000, 8192));
        device.DmaWrite(Base + 0x5000, [9]);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => file.ReportDmaLogging(Base, 0x10000, 4096, new byte[1])).Errno);
        Assert.Equal(new byte[] { 0b10_0000 }, Report(file, Base, 0x6000));

        file.StopDmaLogging();
        device.DmaWrite(Base + 0x1000, [1]);
        Assert.Equal(new byte[] { 0 }, Report(file, Base, 0x8000));
        Assert.Equal(4096ul, file.StartDmaLogging(4096, [new VfioDmaLoggingRange(Base, 0x8000)]));
        Assert.Equal(new byte[] { 0 }, Report(file, Base, 0x8000));      // a new log starts empty
        device.DetachDma(table);
    }
}
