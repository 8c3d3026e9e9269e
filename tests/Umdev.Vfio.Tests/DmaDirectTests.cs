using Umdev.Interop;
using Umdev.Vfio;
using Umdev.Vfio.Migration;

namespace Umdev.Vfio.Tests;

/// <summary><see cref="VfioDmaTable.BeginDirect"/>: several ranges of mapped client memory at once, for one vectored transfer.</summary>
public sealed unsafe class DmaDirectTests
{
    private const ulong Mapped = 0x100000, Copied = 0x200000;

    private sealed class CopyOnlyMemory(int size) : VfioDmaMemory
    {
        private readonly byte[] _bytes = new byte[size];
        public override void Read(ulong offset, Span<byte> destination) => _bytes.AsSpan((int)offset, destination.Length).CopyTo(destination);
        public override void Write(ulong offset, ReadOnlySpan<byte> source) => source.CopyTo(_bytes.AsSpan((int)offset));
        public override void Dispose() { }
    }

    private static (VfioDeviceFile File, VfioDmaTable Table) Attach()
    {
        var file = FakeDriver.Open(() => new BulkMemoryOps(4096));
        var table = file.Device.AttachDma();
        var fd = MemFd.Create("dma-direct", 0x10000);
        table.Map(Mapped, 0x10000, VfioDmaProtection.Read | VfioDmaProtection.Write, new MappedDmaMemory(MemoryMapping.Map(fd, 0, 0x10000, writable: true)));
        fd.Dispose();
        table.Map(Copied, 0x10000, VfioDmaProtection.Read | VfioDmaProtection.Write, new CopyOnlyMemory(0x10000));
        return (file, table);
    }

    [Fact]
    public void PointersReachTheSameBytesAsTheTableAndWritesAreLoggedWhenTheScopeEnds()
    {
        var (file, table) = Attach();
        using var _ = file;
        Assert.Equal(4096ul, file.StartDmaLogging(4096, [new VfioDmaLoggingRange(Mapped, 0x10000)]));
        var pointers = new nint[2];
        using (var scope = table.BeginDirect([new VfioDmaRange(Mapped + 0x1000, 4), new VfioDmaRange(Mapped + 0x3ffe, 4)], VfioDmaDirection.FromDevice, pointers))
        {
            Assert.NotNull(scope);
            new Span<byte>((void*)pointers[0], 4).Fill(0xab);
            new Span<byte>((void*)pointers[1], 4).Fill(0xcd);
            var none = new byte[2];
            file.ReportDmaLogging(Mapped, 0x10000, 4096, none);
            Assert.Equal(new byte[] { 0, 0 }, none);           // not yet: the device may still be writing
        }
        var back = new byte[4];
        table.Read(Mapped + 0x1000, back);
        Assert.Equal(new byte[] { 0xab, 0xab, 0xab, 0xab }, back);
        table.Read(Mapped + 0x3ffe, back);
        Assert.Equal(new byte[] { 0xcd, 0xcd, 0xcd, 0xcd }, back);
        var bitmap = new byte[2];
        file.ReportDmaLogging(Mapped, 0x10000, 4096, bitmap);
        Assert.Equal(new byte[] { 0b0001_1010, 0 }, bitmap); // pages 1, 3 and 4
    }

    [Fact]
    public void CopyOnlyMemoryGivesNullAndUnmappedOrReadOnlyRangesEfault()
    {
        var (file, table) = Attach();
        using var _ = file;
        var pointers = new nint[2];
        Assert.Null(table.BeginDirect([new VfioDmaRange(Mapped, 16), new VfioDmaRange(Copied, 16)], VfioDmaDirection.ToDevice, pointers));
        Assert.Equal(Errno.EFAULT, Assert.Throws<ErrnoException>(() => table.BeginDirect([new VfioDmaRange(Mapped, 16), new VfioDmaRange(Mapped + 0xfff0, 32)], VfioDmaDirection.ToDevice, pointers)).Errno);
        Assert.Equal(Errno.EFAULT, Assert.Throws<ErrnoException>(() => table.BeginDirect([new VfioDmaRange(0x900000, 16)], VfioDmaDirection.ToDevice, pointers)).Errno);
        // Nothing was left begun: the unmap does not wait.
        table.Unmap(Mapped, 0x10000);
    }
}
