using System.Buffers.Binary;
using Umdev.Core;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.Vfio.Migration;
using S = Umdev.Vfio.Migration.VfioMigrationState;

namespace Umdev.Devices.Mtty.Tests;

/// <summary>mtty.md §11: flags, arcs, the stream byte for byte, round trips and refused streams.</summary>
public class MigrationTests
{
    private const uint RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, SCR = 7;

    private static byte[] Header(int ports, ulong magic = 0x7E9D09898C3E2C4E, uint major = 1, uint minor = 0, uint flags = 0)
    {
        var h = new byte[24];
        BinaryPrimitives.WriteUInt64LittleEndian(h, magic);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(8), major);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(12), minor);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(16), (uint)ports);
        BinaryPrimitives.WriteUInt32LittleEndian(h.AsSpan(20), flags);
        return h;
    }

    /// <summary>A port record in the kernel's x86-64 <c>struct serial_port</c> layout.</summary>
    private static byte[] Record(byte[] regs, byte[] fifo, byte head, byte tail, byte count, bool dlab, bool overrun,
        ushort divisor, byte fcr, byte maxFifo, byte trigger)
    {
        var r = new byte[36];
        regs.CopyTo(r, 0);
        fifo.CopyTo(r, 8);
        r[24] = head; r[25] = tail; r[26] = count;
        r[27] = (byte)(dlab ? 1 : 0); r[28] = (byte)(overrun ? 1 : 0);
        BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(30), divisor);
        r[32] = fcr; r[33] = maxFifo; r[34] = trigger;
        return r;
    }

    private static byte[] IdleRecord => Record(new byte[8], new byte[16], 0, 0, 0, false, false, 0, 0, 16, 0);

    private static byte[] ReadAll(VfioMigrationDataFile file)
    {
        var all = new List<byte>();
        var chunk = new byte[5]; // odd segmentation on purpose
        int n;
        while ((n = file.Read(chunk)) > 0) all.AddRange(chunk.AsSpan(0, n).ToArray());
        return [.. all];
    }

    private static byte[] Save(MttyFixture f)
    {
        using var file = f.File.SetDeviceState(S.StopCopy)!;
        var data = ReadAll(file);
        f.File.SetDeviceState(S.Running);
        return data;
    }

    /// <summary>Port 0: DLAB set with divisor 0x0180, scratch, IER, MCR. Port 1: three FIFO bytes after a wrap.</summary>
    private static void Program(MttyFixture f)
    {
        f.WriteReg(0, FCR, 0xC7);
        f.WriteReg(0, IER, 0x0F);
        f.WriteReg(0, MCR, 0x0B);
        f.WriteReg(0, SCR, 0x5A);
        f.WriteReg(0, LCR, 0x83);
        f.WriteReg(0, DLL, 0x80);
        f.WriteReg(0, DLM, 0x01);
        if (f.Mdev.Type.Id != "mtty-2") return;
        for (int i = 0; i < 15; i++) f.WriteReg(1, THR, (byte)i);
        for (int i = 0; i < 15; i++) f.ReadReg(1, RBR);
        foreach (byte b in "abc"u8) f.WriteReg(1, THR, b);
        f.WriteReg(1, LCR, 0x03);
    }

    private static byte[] ExpectedProgrammedStream(int ports)
    {
        var port0 = Record([0, 0x0F, 0, 0x83, 0x0B, 0, 0, 0x5A], new byte[16], 0, 0, 0, true, false, 0x0180, 0xC7, 16, 1);
        var fifo = new byte[16];
        for (int i = 0; i < 15; i++) fifo[i] = (byte)i;
        fifo[15] = (byte)'a'; fifo[0] = (byte)'b'; fifo[1] = (byte)'c';
        var port1 = Record([0, 0, 0, 0x03, 0, 0, 0, 0], fifo, 2, 15, 3, false, false, 0, 0, 16, 0);
        return ports == 1 ? [.. Header(1), .. port0] : [.. Header(2), .. port0, .. port1];
    }

    [Theory]
    [InlineData(1, 60ul)]
    [InlineData(2, 96ul)]
    public void Flags_initial_state_and_data_size(int ports, ulong size)
    {
        using var f = new MttyFixture(ports);
        Assert.Equal(VfioMigrationFlags.StopCopy | VfioMigrationFlags.P2P | VfioMigrationFlags.PreCopy, f.File.GetMigrationFlags());
        Assert.Equal(0x7ul, (ulong)f.File.GetMigrationFlags());
        Assert.Equal(S.Running, f.File.GetDeviceState());
        Assert.Equal(size, f.File.GetMigrationDataSize());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Idle_stream_is_byte_exact(int ports)
    {
        using var f = new MttyFixture(ports);
        byte[] expected = ports == 1 ? [.. Header(1), .. IdleRecord] : [.. Header(2), .. IdleRecord, .. IdleRecord];
        Assert.Equal(expected, Save(f));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Programmed_stream_is_byte_exact(int ports)
    {
        using var f = new MttyFixture(ports);
        Program(f);
        Assert.Equal(ExpectedProgrammedStream(ports), Save(f));
    }

    [Fact]
    public void Full_fifo_is_saved_with_count_16()
    {
        using var f = new MttyFixture(1);
        for (int i = 0; i < 16; i++) f.WriteReg(0, THR, (byte)(0xA0 + i));
        var stream = Save(f);
        Assert.Equal(16, stream[24 + 26]);                // count
        Assert.Equal(stream[24 + 24], stream[24 + 25]);   // head == tail
        Assert.Equal(Enumerable.Range(0xA0, 16).Select(i => (byte)i).ToArray(), stream[(24 + 8)..(24 + 24)]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Pre_copy_gives_the_header_then_stop_copy_appends_the_ports_to_the_same_stream(int ports)
    {
        using var f = new MttyFixture(ports);
        Program(f);
        using var file = f.File.SetDeviceState(S.PreCopy)!;
        Assert.True(file.IsSaving);
        Assert.Equal(new VfioPrecopyInfo(24, 0), file.GetPrecopyInfo());
        Assert.Equal(new VfioPrecopyInfo(24, 0), f.File.GetPrecopyInfo());
        Assert.Equal(Header(ports), ReadAll(file));
        Assert.Equal(new VfioPrecopyInfo(0, 0), file.GetPrecopyInfo());
        Assert.Equal(0, file.Read(new byte[8]));         // temporary end: 0, not ENOMSG, as mtty
        Assert.Null(f.File.SetDeviceState(S.PreCopyP2P));
        Assert.Equal(new VfioPrecopyInfo(0, 0), file.GetPrecopyInfo());
        Assert.Null(f.File.SetDeviceState(S.StopCopy));  // same session: no new data file
        Errnos.Expect(Errno.EINVAL, () => file.GetPrecopyInfo());
        Assert.Equal(ExpectedProgrammedStream(ports)[24..], ReadAll(file));
        Assert.Equal(0, file.Read(new byte[8]));
        Assert.Null(f.File.SetDeviceState(S.Stop));
        Errnos.Expect(Errno.ENODEV, () => file.Read(new byte[8]));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Round_trip_into_a_fresh_device_in_another_core(int ports)
    {
        using var source = new MttyFixture(ports);
        source.WriteReg(0, FCR, 0x07);
        source.WriteReg(0, IER, 0x0F);
        for (int i = 0; i < 16; i++) source.WriteReg(0, THR, (byte)(0x60 + i)); // a full FIFO
        source.WriteReg(0, MCR, 0x0B);
        source.WriteReg(0, SCR, 0x5A);
        source.WriteReg(0, LCR, 0x83);
        source.WriteReg(0, DLL, 0x0C);
        source.WriteReg(0, DLM, 0x01);
        if (ports == 2)
        {
            for (int i = 0; i < 15; i++) source.WriteReg(1, THR, (byte)i);
            for (int i = 0; i < 15; i++) source.ReadReg(1, RBR);
            foreach (byte b in "abc"u8) source.WriteReg(1, THR, b);     // wraps around the FIFO end
            source.WriteReg(1, LCR, 0x1B);
            source.WriteReg(1, SCR, 0x11);
        }
        var stream = Save(source);
        Assert.Equal(S.Running, source.File.GetDeviceState());

        using var target = new MttyFixture(ports);
        using (var resume = target.File.SetDeviceState(S.Resuming)!)
        {
            Assert.False(resume.IsSaving);
            for (int at = 0; at < stream.Length; at += 7)
            {
                int n = Math.Min(7, stream.Length - at);
                Assert.Equal(n, resume.Write(stream.AsSpan(at, n)));
            }
        }
        Assert.Null(target.File.SetDeviceState(S.Running));
        Assert.Equal(S.Running, target.File.GetDeviceState());
        Assert.Equal(stream, Save(target));

        // The UART reads back exactly: registers, divisor, FIFO bytes.
        Assert.Equal(0x0C, target.ReadReg(0, DLL));
        Assert.Equal(0x01, target.ReadReg(0, DLM));
        Assert.Equal(0x83, target.ReadReg(0, LCR));
        Assert.Equal(0x0B, target.ReadReg(0, MCR));
        Assert.Equal(0x5A, target.ReadReg(0, SCR));
        target.WriteReg(0, LCR, 0x03);
        Assert.Equal(0x0F, target.ReadReg(0, IER));
        Assert.Equal(0x01, target.ReadReg(0, LSR));
        Assert.Equal(0xC4, target.ReadReg(0, IIR));
        for (int i = 0; i < 16; i++) Assert.Equal((byte)(0x60 + i), target.ReadReg(0, RBR));
        Assert.Equal(0x60, target.ReadReg(0, LSR));
        Assert.Equal(0xC2, target.ReadReg(0, IIR));
        if (ports == 2)
        {
            Assert.Equal(0x1B, target.ReadReg(1, LCR));
            Assert.Equal(0x11, target.ReadReg(1, SCR));
            Assert.Equal(0x01, target.ReadReg(1, LSR));
            Assert.Equal("abc"u8.ToArray(), new[] { target.ReadReg(1, RBR), target.ReadReg(1, RBR), target.ReadReg(1, RBR) });
            Assert.Equal(0x60, target.ReadReg(1, LSR));
        }
    }

    [Fact]
    public void Config_space_and_irq_setup_are_not_migrated()
    {
        using var source = new MttyFixture(2);
        source.WriteConfig(0x10, 0x50, 0xC1, 0, 0);
        var stream = Save(source);
        using var target = new MttyFixture(2);
        var e = target.EnableIrq();
        using (var resume = target.File.SetDeviceState(S.Resuming)!) resume.Write(stream);
        target.File.SetDeviceState(S.Running);
        Assert.Equal(1u, target.ReadConfig32(0x10));
        target.Loopback();
        MttyFixture.AwaitSignal(e);
    }

    private static MttyFixture ResumingTarget(int ports, out VfioMigrationDataFile file)
    {
        var f = new MttyFixture(ports);
        f.WriteReg(0, SCR, 0x77);                          // must survive a refused load
        file = f.File.SetDeviceState(S.Resuming)!;
        return f;
    }

    private static void AssertLoadRefusedAndDeviceUntouched(MttyFixture f)
    {
        Errnos.Expect(Errno.EINVAL, () => f.File.SetDeviceState(S.Running));
        Assert.Equal(S.Resuming, f.File.GetDeviceState());  // the state the kernel leaves
        Errnos.Expect(Errno.EINVAL, () => f.File.SetDeviceState(S.Stop));
        Assert.Equal(S.Resuming, f.File.GetDeviceState());
        f.File.Reset();                                      // the way out
        Assert.Equal(S.Running, f.File.GetDeviceState());
        Assert.Equal(0x77, f.ReadReg(0, SCR));
    }

    [Theory]
    [InlineData(1, 59)]
    [InlineData(2, 95)]
    [InlineData(2, 24)]
    [InlineData(2, 23)]
    [InlineData(1, 0)]
    public void Truncated_stream_is_refused(int ports, int length)
    {
        using var source = new MttyFixture(ports);
        var stream = Save(source);
        using var f = ResumingTarget(ports, out var file);
        Assert.Equal(length, file.Write(stream.AsSpan(0, length)));
        AssertLoadRefusedAndDeviceUntouched(f);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Oversized_write_is_enomem_and_takes_nothing(int ports)
    {
        using var source = new MttyFixture(ports);
        var stream = Save(source);
        using var f = ResumingTarget(ports, out var file);
        Errnos.Expect(Errno.ENOMEM, () => file.Write([.. stream, 0]));
        AssertLoadRefusedAndDeviceUntouched(f);
    }

    [Fact]
    public void Bytes_past_a_complete_stream_are_enomem_and_the_complete_stream_still_loads()
    {
        using var source = new MttyFixture(1);
        source.WriteReg(0, SCR, 0x42);
        var stream = Save(source);
        using var f = ResumingTarget(1, out var file);
        file.Write(stream);
        Errnos.Expect(Errno.ENOMEM, () => file.Write([0]));
        f.File.SetDeviceState(S.Running);
        Assert.Equal(0x42, f.ReadReg(0, SCR));
    }

    public static TheoryData<string, byte[]> BadHeaders => new()
    {
        { "magic", Header(2, magic: 0x7E9D09898C3E2C4F) },
        { "major", Header(2, major: 2) },
        { "minor", Header(2, minor: 1) },
        { "flags", Header(2, flags: 1) },
        { "ports", Header(1) },
    };

    [Theory, MemberData(nameof(BadHeaders))]
    public void Corrupt_header_fails_the_completing_write_with_efault_and_the_load_with_einval(string what, byte[] header)
    {
        Assert.NotNull(what);
        using var f = ResumingTarget(2, out var file);
        Assert.Equal(10, file.Write(header.AsSpan(0, 10)));
        Errnos.Expect(Errno.EFAULT, () => file.Write(header.AsSpan(10)));   // as the kernel: bytes taken, write fails
        Assert.Equal(72, file.Write([.. IdleRecord, .. IdleRecord]));       // the check is not repeated
        AssertLoadRefusedAndDeviceUntouched(f);                            // fix: the load does not complete
    }

    [Fact]
    public void Stream_of_a_dual_port_card_is_refused_by_a_single_port_card()
    {
        using var source = new MttyFixture(2);
        var stream = Save(source);
        using var f = ResumingTarget(1, out var file);
        Errnos.Expect(Errno.ENOMEM, () => file.Write(stream));
        Errnos.Expect(Errno.EFAULT, () => file.Write(stream.AsSpan(0, 24)));
        Assert.Equal(36, file.Write(stream.AsSpan(24, 36)));
        Errnos.Expect(Errno.ENOMEM, () => file.Write(stream.AsSpan(60, 1)));
        AssertLoadRefusedAndDeviceUntouched(f);
    }

    [Fact]
    public void Stream_of_a_single_port_card_is_refused_by_a_dual_port_card()
    {
        using var source = new MttyFixture(1);
        var stream = Save(source);
        using var f = ResumingTarget(2, out var file);
        Errnos.Expect(Errno.EFAULT, () => file.Write(stream));
        Assert.Equal(36, file.Write(IdleRecord));          // even padded to the right size
        AssertLoadRefusedAndDeviceUntouched(f);
    }

    [Theory]
    [InlineData(24, 16)]   // head past the FIFO
    [InlineData(25, 200)]  // tail past the FIFO
    [InlineData(26, 17)]   // count past the FIFO
    [InlineData(26, 3)]    // count disagrees with head/tail
    [InlineData(27, 2)]    // dlab not a bool
    [InlineData(28, 9)]    // overrun not a bool
    [InlineData(33, 0)]    // FIFO size neither 1 nor 16
    public void Corrupt_port_record_is_refused(int offset, byte value)
    {
        using var source = new MttyFixture(2);
        var stream = Save(source);
        stream[24 + 36 + offset] = value;
        using var f = ResumingTarget(2, out var file);
        file.Write(stream);
        AssertLoadRefusedAndDeviceUntouched(f);
    }

    [Fact]
    public void Padding_bytes_of_a_kernel_stream_are_ignored()
    {
        using var source = new MttyFixture(1);
        source.WriteReg(0, SCR, 0x31);
        var stream = Save(source);
        stream[24 + 29] = 0xEE;
        stream[24 + 35] = 0xDD;
        using var f = ResumingTarget(1, out var file);
        file.Write(stream);
        f.File.SetDeviceState(S.Running);
        Assert.Equal(0x31, f.ReadReg(0, SCR));
        stream[24 + 29] = 0;
        stream[24 + 35] = 0;
        Assert.Equal(stream, Save(f));                     // ours are written as 0
    }

    [Fact]
    public void Stream_handles_are_sequential_and_one_way()
    {
        using var f = new MttyFixture(1);
        using var saving = f.File.SetDeviceState(S.StopCopy)!;
        Errnos.Expect(Errno.ESPIPE, () => saving.ReadAt(new byte[4], 0));
        Errnos.Expect(Errno.EBADF, () => saving.Write([1]));
        f.File.SetDeviceState(S.Stop);
        using var resuming = f.File.SetDeviceState(S.Resuming)!;
        Errnos.Expect(Errno.ESPIPE, () => resuming.WriteAt([1], 0));
        Errnos.Expect(Errno.EBADF, () => resuming.Read(new byte[4]));
        Errnos.Expect(Errno.ENOTTY, () => resuming.GetPrecopyInfo());
        resuming.Dispose();
        Errnos.Expect(Errno.EBADF, () => resuming.Write([1]));
        Errnos.Expect(Errno.ENODEV, () => saving.Read(new byte[4]));
    }

    [Fact]
    public void Precopy_info_rules()
    {
        using var f = new MttyFixture(1);
        using var old = f.File.SetDeviceState(S.PreCopy)!;
        Errnos.Expect(Errno.EINVAL, () => old.GetPrecopyInfo(23));
        f.File.SetDeviceState(S.Running);
        Errnos.Expect(Errno.EINVAL, () => old.GetPrecopyInfo());   // state checked first
        using var current = f.File.SetDeviceState(S.PreCopy)!;
        Errnos.Expect(Errno.ENODEV, () => old.GetPrecopyInfo());   // a session that ended
        Assert.Equal(new VfioPrecopyInfo(24, 0), current.GetPrecopyInfo());
    }

    [Fact]
    public void Transport_style_data_access_follows_the_current_session()
    {
        using var source = new MttyFixture(2);
        Program(source);
        Errnos.Expect(Errno.EINVAL, () => source.File.ReadMigrationData(new byte[8]));
        source.File.SetDeviceState(S.StopCopy)!.Dispose();   // the handle is not needed to read
        var stream = new byte[96];
        int got = 0, n;
        while ((n = source.File.ReadMigrationData(stream.AsSpan(got))) > 0) got += n;
        Assert.Equal(96, got);
        Assert.Equal(ExpectedProgrammedStream(2), stream);
        Errnos.Expect(Errno.EINVAL, () => source.File.WriteMigrationData(stream));

        using var target = new MttyFixture(2);
        Errnos.Expect(Errno.EINVAL, () => target.File.WriteMigrationData(stream));
        target.File.SetDeviceState(S.Resuming)!.Dispose();
        Assert.Equal(96, target.File.WriteMigrationData(stream));
        target.File.SetDeviceState(S.Running);
        Assert.Equal(stream, Save(target));
    }

    [Fact]
    public void Reset_forces_running_and_ends_the_session()
    {
        using var f = new MttyFixture(2);
        using var file = f.File.SetDeviceState(S.StopCopy)!;
        f.File.Reset();
        Assert.Equal(S.Running, f.File.GetDeviceState());
        Errnos.Expect(Errno.ENODEV, () => file.Read(new byte[4]));
        Assert.NotNull(f.File.SetDeviceState(S.PreCopy));
    }

    [Fact]
    public void Last_close_ends_the_session_but_keeps_the_state()
    {
        using var f = new MttyFixture(1);
        using var file = f.File.SetDeviceState(S.StopCopy)!;
        f.Reopen();
        Errnos.Expect(Errno.ENODEV, () => file.Read(new byte[4]));
        Assert.Equal(S.StopCopy, f.File.GetDeviceState());
        Assert.Null(f.File.SetDeviceState(S.Running));
    }

    [Fact]
    public void Removal_ends_the_session()
    {
        var f = new MttyFixture(1);
        using var file = f.File.SetDeviceState(S.StopCopy)!;
        f.Core.Remove(f.Mdev);
        Errnos.Expect(Errno.ENODEV, () => file.Read(new byte[4]));
        Errnos.Expect(Errno.ENODEV, () => f.File.SetDeviceState(S.Stop));
        f.Dispose();
    }

    public static TheoryData<S, S, bool> Arcs => new()
    {
        { S.Running, S.RunningP2P, false },
        { S.RunningP2P, S.Running, false },
        { S.RunningP2P, S.Stop, false },
        { S.Stop, S.RunningP2P, false },
        { S.PreCopy, S.PreCopyP2P, false },
        { S.PreCopyP2P, S.PreCopy, false },
        { S.Running, S.PreCopy, true },
        { S.RunningP2P, S.PreCopyP2P, true },
        { S.Stop, S.StopCopy, true },
        { S.PreCopyP2P, S.StopCopy, false },
        { S.PreCopy, S.Running, false },
        { S.PreCopyP2P, S.RunningP2P, false },
        { S.StopCopy, S.Stop, false },
        { S.Stop, S.Resuming, true },
        { S.Resuming, S.Stop, false },
    };

    [Theory, MemberData(nameof(Arcs))]
    public void Every_arc_of_mtty(S from, S to, bool opensSession)
    {
        using var f = new MttyFixture(2);
        var stream = Save(f);
        f.File.SetDeviceState(from)?.Dispose();
        if (from == S.Resuming) f.File.WriteMigrationData(stream);
        Assert.Equal(from, f.File.GetDeviceState());
        using var file = f.File.SetDeviceState(to);
        Assert.Equal(opensSession, file is not null);
        Assert.Equal(to, f.File.GetDeviceState());
    }

    [Theory]
    [InlineData(S.StopCopy, S.PreCopy)]
    [InlineData(S.StopCopy, S.PreCopyP2P)]
    [InlineData(S.Running, S.Error)]
    [InlineData(S.Running, (S)8)]
    [InlineData(S.Stop, (S)0xFFFFFFFF)]
    public void Impossible_requests_are_einval_and_leave_the_state(S from, S to)
    {
        using var f = new MttyFixture(1);
        f.File.SetDeviceState(from)?.Dispose();
        Errnos.Expect(Errno.EINVAL, () => f.File.SetDeviceState(to));
        Assert.Equal(from, f.File.GetDeviceState());
    }

    [Fact]
    public void Dma_logging_is_a_successful_no_op()
    {
        using var f = new MttyFixture(1);
        Assert.Equal(4096ul, f.File.StartDmaLogging(4096, [new VfioDmaLoggingRange(0, 0x10000), new VfioDmaLoggingRange(0x20000, 0x1000)]));
        var bitmap = new byte[16];
        f.File.ReportDmaLogging(0, 0x10000, 4096, bitmap);
        Assert.All(bitmap, b => Assert.Equal(0, b));
        f.File.StopDmaLogging();
        Errnos.Expect(Errno.EINVAL, () => f.File.StartDmaLogging(4096, []));
        Errnos.Expect(Errno.EINVAL, () => f.File.StartDmaLogging(4096, [new VfioDmaLoggingRange(1, 4096)]));
        Errnos.Expect(Errno.EINVAL, () => f.File.StartDmaLogging(4096, [new VfioDmaLoggingRange(0, 8192), new VfioDmaLoggingRange(4096, 4096)]));
        Errnos.Expect(Errno.EOVERFLOW, () => f.File.StartDmaLogging(4096, [new VfioDmaLoggingRange(ulong.MaxValue - 4095, 8192)]));
        Errnos.Expect(Errno.E2BIG, () => f.File.StartDmaLogging(4096, new VfioDmaLoggingRange[257]));
        Errnos.Expect(Errno.EINVAL, () => f.File.ReportDmaLogging(0, 4096, 2048, bitmap));
        Errnos.Expect(Errno.EINVAL, () => f.File.ReportDmaLogging(0, 4096, 12288, bitmap));
        Errnos.Expect(Errno.EOVERFLOW, () => f.File.ReportDmaLogging(ulong.MaxValue, 2, 4096, bitmap));
    }

    [Fact]
    public void Device_feature_binary_dispatch()
    {
        const uint Get = VfioDeviceFeature.Get, Set = VfioDeviceFeature.Set, Probe = VfioDeviceFeature.Probe;
        using var f = new MttyFixture(2);
        var data = new byte[8];
        Assert.Equal(8, f.File.DeviceFeature(Get | VfioDeviceFeature.Migration, data, out _));
        Assert.Equal(7ul, BinaryPrimitives.ReadUInt64LittleEndian(data));
        Assert.Equal(0, f.File.DeviceFeature(Get | Probe | VfioDeviceFeature.Migration, data, out _));
        Errnos.Expect(Errno.EINVAL, () => f.File.DeviceFeature(Set | VfioDeviceFeature.Migration, data, out _));
        Errnos.Expect(Errno.EINVAL, () => f.File.DeviceFeature(Set | Probe | VfioDeviceFeature.Migration, data, out _));
        Errnos.Expect(Errno.EINVAL, () => f.File.DeviceFeature(Get | Set | VfioDeviceFeature.MigDeviceState, data, out _));
        Assert.Equal(0, f.File.DeviceFeature(Get | Set | Probe | VfioDeviceFeature.MigDeviceState, data, out _));
        Errnos.Expect(Errno.EINVAL, () => f.File.DeviceFeature(VfioDeviceFeature.Migration, data, out _));
        Errnos.Expect(Errno.EINVAL, () => f.File.DeviceFeature(0x80000 | Get | VfioDeviceFeature.Migration, data, out _));
        Errnos.Expect(Errno.EINVAL, () => f.File.DeviceFeature(Get | VfioDeviceFeature.Migration, data.AsSpan(0, 7), out _));
        Errnos.Expect(Errno.EINVAL, () => f.File.DeviceFeature(Get | 0, data, out _));   // PCI_VF_TOKEN: not this device's
        Errnos.Expect(Errno.EINVAL, () => f.File.DeviceFeature(Get | 3, data, out _));   // LOW_POWER_ENTRY

        Assert.Equal(8, f.File.DeviceFeature(Get | VfioDeviceFeature.MigDataSize, data, out _));
        Assert.Equal(96ul, BinaryPrimitives.ReadUInt64LittleEndian(data));

        BinaryPrimitives.WriteUInt32LittleEndian(data, (uint)S.StopCopy);
        Assert.Equal(8, f.File.DeviceFeature(Set | VfioDeviceFeature.MigDeviceState, data, out var file));
        Assert.Equal(-1, BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(4)));
        Assert.NotNull(file);
        Assert.Equal(96, ReadAll(file!).Length);
        Assert.Equal(8, f.File.DeviceFeature(Get | VfioDeviceFeature.MigDeviceState, data, out file));
        Assert.Null(file);
        Assert.Equal((uint)S.StopCopy, BinaryPrimitives.ReadUInt32LittleEndian(data));
        BinaryPrimitives.WriteUInt32LittleEndian(data, (uint)S.PreCopy);
        Errnos.Expect(Errno.EINVAL, () => f.File.DeviceFeature(Set | VfioDeviceFeature.MigDeviceState, data, out _));
        Assert.Equal(-1, BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(4)));

        var start = new byte[16 + 16];
        BinaryPrimitives.WriteUInt64LittleEndian(start, 4096);
        BinaryPrimitives.WriteUInt32LittleEndian(start.AsSpan(8), 1);
        BinaryPrimitives.WriteUInt64LittleEndian(start.AsSpan(24), 4096);
        Assert.Equal(16, f.File.DeviceFeature(Set | VfioDeviceFeature.DmaLoggingStart, start, out _));
        Assert.Equal(0, f.File.DeviceFeature(Set | VfioDeviceFeature.DmaLoggingStop, [], out _));
        var report = new byte[24 + 8];
        BinaryPrimitives.WriteUInt64LittleEndian(report.AsSpan(8), 4096 * 64);
        BinaryPrimitives.WriteUInt64LittleEndian(report.AsSpan(16), 4096);
        Assert.Equal(32, f.File.DeviceFeature(Get | VfioDeviceFeature.DmaLoggingReport, report, out _));
        Assert.All(report[24..], b => Assert.Equal(0, b));
    }
}
