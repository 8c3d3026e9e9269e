using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.Vfio.Migration;
using static Umdev.Devices.Mbochs.Tests.MbochsFixture;
using S = Umdev.Vfio.Migration.VfioMigrationState;

namespace Umdev.Devices.Mbochs.Tests;

/// <summary>Memory and registers move with migration: STOP_COPY, and PRE_COPY with the mapped memory's changed pages.</summary>
public class MigrationTests
{
    private static byte[] ReadAll(VfioMigrationDataFile file)
    {
        using var all = new MemoryStream();
        var chunk = new byte[5000]; // not a multiple of a record on purpose
        int n;
        while ((n = file.Read(chunk)) > 0) all.Write(chunk, 0, n);
        return all.ToArray();
    }

    private static void Resume(MbochsFixture target, byte[] stream)
    {
        target.File.SetDeviceState(S.Stop);
        using (var file = target.File.SetDeviceState(S.Resuming)!)
            for (int at = 0; at < stream.Length; at += 3000) file.Write(stream.AsSpan(at, Math.Min(3000, stream.Length - at)));
        target.File.SetDeviceState(S.Stop);
        target.File.SetDeviceState(S.Running);
    }

    private static void AssertSameScreen(MbochsFixture source, MbochsFixture target)
    {
        var plane = source.File.QueryGfxPlane();
        Assert.True(plane.IsEnabled);
        Assert.Equal(plane, target.File.QueryGfxPlane());
        using var a = source.MapVram();
        using var b = target.MapVram();
        Assert.True(a.Span(0, (int)a.Length).SequenceEqual(b.Span(0, (int)b.Length)));
    }

    [Theory]
    [InlineData(S.Stop)]
    [InlineData(S.StopCopy)]
    [InlineData(S.Resuming)]
    [InlineData(S.PreCopyP2P)]
    [InlineData(S.RunningP2P)]
    public void ResetFromAnyStateLeavesARunningDisplay(S state)
    {
        using var f = new MbochsFixture();
        f.WriteDispi(Xres, 640);
        f.File.SetDeviceState(state)?.Dispose();
        f.File.Reset();
        Assert.Equal(S.Running, f.File.GetDeviceState());
        Assert.Equal(0, f.ReadDispi(Xres));                 // reset, and BAR2 served again (RUNNING)
        f.SetMode(800, 600);
        Assert.True(f.File.QueryGfxPlane().IsEnabled);
        Assert.NotNull(f.File.SetDeviceState(S.PreCopy));    // and a new migration can start
    }

    [Fact]
    public void StopCopyMovesMemoryRegistersAndEdid()
    {
        using var source = new MbochsFixture();
        using var target = new MbochsFixture();
        source.SetMode(800, 600);
        source.WriteDispi(YOffset, 5);
        source.File.WriteRegion(EdidRegion, 0x800, [0, 0xff, 0xff]);
        source.File.WriteRegion(EdidRegion, 20, [1, 0, 0, 0]);
        source.File.WriteRegion(EdidRegion, 8, [3, 0, 0, 0]);
        using (var vram = source.MapVram()) DrawPattern(vram, 800, 600, 3200, 5 * 3200);
        Assert.Equal(VfioMigrationFlags.StopCopy | VfioMigrationFlags.P2P | VfioMigrationFlags.PreCopy, source.File.GetMigrationFlags());

        byte[] stream;
        using (var file = source.File.SetDeviceState(S.StopCopy)!) stream = ReadAll(file);
        source.File.SetDeviceState(S.Running);
        Assert.Equal(source.File.GetMigrationDataSize(), (ulong)stream.Length);
        Resume(target, stream);

        AssertSameScreen(source, target);
        var edid = new byte[3];
        target.File.ReadRegion(Bar2, 0, edid);
        Assert.Equal(new byte[] { 0, 0xff, 0xff }, edid);
    }

    [Fact]
    public void PreCopySendsThePagesTheGuestDrewIntoSinceTheyWereSent()
    {
        using var source = new MbochsFixture();
        using var target = new MbochsFixture();
        source.SetMode(640, 480);
        using var vram = source.MapVram();
        DrawPattern(vram, 640, 480, 2560);

        using var file = source.File.SetDeviceState(S.PreCopy)!;
        var first = ReadAll(file); // the header and every page
        Assert.Equal(new VfioPrecopyInfo(0, 0), source.File.GetPrecopyInfo());
        vram.Span(100 * 2560, 8).Fill(0x5A); // the guest keeps drawing through its mapping
        var info = source.File.GetPrecopyInfo();
        Assert.Equal((0ul, 8ul + 4096), (info.InitialBytes, info.DirtyBytes));
        var second = ReadAll(file);
        Assert.Equal(8 + 4096, second.Length);
        Assert.Equal((ulong)(100 * 2560 / 4096), BinaryPrimitives.ReadUInt64LittleEndian(second));
        vram.Span(0, 4).Fill(0x11);
        source.File.SetDeviceState(S.StopCopy);
        var last = ReadAll(file);
        source.File.SetDeviceState(S.Stop);

        Resume(target, [.. first, .. second, .. last]);
        AssertSameScreen(source, target);
    }

    [Theory]
    [InlineData(0)]  // bad magic
    [InlineData(12)] // another type's memory size
    public void AStreamForAnotherDeviceIsRefused(int corruptAt)
    {
        using var source = new MbochsFixture("mbochs-medium");
        using var target = new MbochsFixture();
        byte[] stream;
        using (var file = source.File.SetDeviceState(S.StopCopy)!) stream = ReadAll(file);
        if (corruptAt == 0) stream[0] ^= 1;
        target.File.SetDeviceState(S.Stop);
        using var sink = target.File.SetDeviceState(S.Resuming)!;
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => sink.Write(stream.AsSpan(0, 4096))).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => target.File.SetDeviceState(S.Stop)).Errno);
        Assert.Equal(S.Resuming, target.File.GetDeviceState());
    }

    [Fact]
    public void APagePastTheMemoryIsRefused()
    {
        using var target = new MbochsFixture();
        var stream = new byte[16 + 8];
        BinaryPrimitives.WriteUInt64LittleEndian(stream, 0x53484342_4F4D4455);
        BinaryPrimitives.WriteUInt32LittleEndian(stream.AsSpan(8), 1);
        BinaryPrimitives.WriteUInt32LittleEndian(stream.AsSpan(12), 4);
        BinaryPrimitives.WriteUInt64LittleEndian(stream.AsSpan(16), 1024); // 4 MiB has pages 0..1023
        target.File.SetDeviceState(S.Stop);
        using var sink = target.File.SetDeviceState(S.Resuming)!;
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => sink.Write(stream)).Errno);
    }
}
