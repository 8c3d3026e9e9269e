using System.Buffers.Binary;
using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Umdev.Core;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.Vfio.Migration;
using Umdev.VfioUser;
using Umdev.VfioUser.Client;
using Umdev.VfioUser.Display;
using static Umdev.Devices.Mbochs.Tests.MbochsFixture;
using S = Umdev.Vfio.Migration.VfioMigrationState;

namespace Umdev.Devices.Mbochs.Tests;

/// <summary>
/// What a client does with the memory it was handed cannot reach the device: the video memory's memfd
/// cannot be resized, the display socket hands a sealed snapshot nobody can write, and clients that stall
/// on the display socket delay no one. Through the real sockets.
/// </summary>
public sealed class SealedMemoryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("umdev-mbochs-").FullName;
    private readonly MdevCore _core = new();
    private readonly MdevParent _mbochs;
    private readonly VfioUserService _service;

    public SealedMemoryTests()
    {
        _mbochs = Mbochs.Register(_core);
        _service = new VfioUserService(_core, _dir, NullLoggerFactory.Instance);
    }

    public void Dispose()
    {
        _service.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private MdevDevice Create() => _core.Create(_mbochs.FindType("mbochs-small")!, Guid.NewGuid());

    private string Vmm(MdevDevice d) => VfioUserService.SocketPathFor(_dir, d.Uuid);

    private string Display(MdevDevice d) => VfioUserService.DisplaySocketPathFor(_dir, d.Uuid);

    private static void SetMode(VfioUserClient vmm, ushort width, ushort height)
    {
        foreach (var (index, value) in new[] { (Bpp, 32), (Xres, width), (Yres, height), (VirtWidth, width), (Enable, 0x41) })
        {
            var b = new byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)value);
            vmm.WriteRegion(Bar2, DispiBase + 2 * (uint)index, b);
        }
    }

    /// <summary>A VMM with the mode set and the pattern drawn (at the top of video memory, rows of width × 4 bytes).</summary>
    private VfioUserClient Draw(MdevDevice d, ushort width, ushort height)
    {
        var vmm = VfioUserClient.Connect(Vmm(d));
        SetMode(vmm, width, height);
        using var vram = vmm.MapRegion(Bar0, 0, 4 << 20);
        DrawPattern(vram, width, height, width * 4);
        return vmm;
    }

    /// <summary>The display socket's reply and its one descriptor, asked by hand.</summary>
    private static (byte[] Reply, FileDescriptorHandle Memory) Ask(string path)
    {
        using var socket = UnixSocket.Connect(path);
        var request = new byte[DisplayRequest.Length];
        DisplayRequest.Write(request);
        socket.Send(request);
        var fds = new List<FileDescriptorHandle>();
        var reply = new byte[DisplayReply.Length];
        int n = 0, r;
        while ((r = socket.Receive(reply.AsSpan(n), fds, out _)) > 0) n += r;
        Assert.Equal(DisplayReply.Length, n);
        return (reply, Assert.Single(fds));
    }

    private static void AssertPattern(VfioDisplayFrame frame, int width, int height)
    {
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                Assert.Equal(Pattern(x, y), BinaryPrimitives.ReadUInt32LittleEndian(frame.Row(y)[(4 * x)..]));
    }

    [Fact]
    public void The_display_hands_a_sealed_read_only_snapshot_of_the_plane_alone()
    {
        var mdev = Create();
        using var vmm = Draw(mdev, 96, 64);
        var (reply, memory) = Ask(Display(mdev));
        using (memory)
        {
            Assert.Equal(96ul * 4 * 64, BinaryPrimitives.ReadUInt64LittleEndian(reply.AsSpan(40))); // the plane's bytes, not the 4 MiB
            Assert.Equal(0ul, BinaryPrimitives.ReadUInt64LittleEndian(reply.AsSpan(32)));            // offset into the snapshot
            Assert.Equal(96L * 4 * 64, memory.GetRegularFileSize());
            Assert.Equal(MemFdSeals.Write | MemFdSeals.Shrink | MemFdSeals.Grow | MemFdSeals.Seal, MemFd.GetSeals(memory));
            Assert.Equal(Errno.EACCES, Assert.Throws<ErrnoException>(() => MemoryMapping.Map(memory, 0, 4096, writable: true)).Errno);
            Assert.Throws<ErrnoException>(() => memory.SetLength(0)); // read-only descriptor: EINVAL/EBADF
            using var view = MemoryMapping.Map(memory, 0, 96 * 4 * 64, writable: false);
            Assert.Equal(Pattern(5, 7), BinaryPrimitives.ReadUInt32LittleEndian(view.Span((7 * 96 + 5) * 4, 4)));
        }
    }

    [Fact]
    public void Reopening_the_snapshot_read_write_through_proc_cannot_change_anything()
    {
        var mdev = Create();
        using var vmm = Draw(mdev, 96, 64);
        var (_, memory) = Ask(Display(mdev));
        using (memory)
        {
            // The open may succeed (root, mode 0777 memfd): every way of writing through it must not.
            using var reopened = File.OpenHandle($"/proc/self/fd/{memory.Fd}", FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
            Assert.Throws<UnauthorizedAccessException>(() => RandomAccess.Write(reopened, new byte[] { 0xFF, 0xFF, 0xFF, 0xFF }, 0));
            var rw = new FileDescriptorHandle((int)reopened.DangerousGetHandle(), ownsHandle: false);
            Assert.Equal(Errno.EPERM, Assert.Throws<ErrnoException>(() => rw.SetLength(0)).Errno);
            Assert.Equal(Errno.EPERM, Assert.Throws<ErrnoException>(() => rw.SetLength(1 << 24)).Errno);
            Assert.Equal(Errno.EPERM, Assert.Throws<ErrnoException>(() => MemoryMapping.Map(rw, 0, 4096, writable: true)).Errno);
        }
        // Neither the device's memory nor the next screenshot changed.
        var first = new byte[4];
        Assert.Equal(4, vmm.ReadRegion(Bar0, 0, first));
        Assert.Equal(Pattern(0, 0), BinaryPrimitives.ReadUInt32LittleEndian(first));
        using var frame = VfioDisplayClient.Capture(Display(mdev));
        AssertPattern(frame, 96, 64);
    }

    [Fact]
    public void The_snapshot_does_not_follow_later_drawing()
    {
        var mdev = Create();
        using var vmm = Draw(mdev, 64, 64);
        using var frame = VfioDisplayClient.Capture(Display(mdev));
        vmm.WriteRegion(Bar0, 0, [1, 2, 3, 4]);
        Assert.Equal(Pattern(0, 0), BinaryPrimitives.ReadUInt32LittleEndian(frame.Row(0)));
    }

    [Fact]
    public void Truncating_the_video_memory_memfd_fails_and_the_device_goes_on()
    {
        var mdev = Create();
        using var vmm = Draw(mdev, 96, 64);
        using (var fd = vmm.GetRegionInfo(Bar0).MmapHandle!)
        {
            Assert.Equal(Errno.EPERM, Assert.Throws<ErrnoException>(() => fd.SetLength(0)).Errno);
            Assert.Equal(Errno.EPERM, Assert.Throws<ErrnoException>(() => fd.SetLength(64 << 20)).Errno);
        }
        var last = new byte[4];
        Assert.Equal(4, vmm.ReadRegion(Bar0, (4 << 20) - 4, last)); // the last byte of the region still reads
        using var frame = VfioDisplayClient.Capture(Display(mdev));
        AssertPattern(frame, 96, 64);
    }

    [Fact]
    public void Migration_after_a_client_tried_to_truncate_the_video_memory_moves_the_screen()
    {
        var source = Create();
        var target = Create();
        using var s = Draw(source, 320, 200);
        using (var fd = s.GetRegionInfo(Bar0).MmapHandle!)
            Assert.Equal(Errno.EPERM, Assert.Throws<ErrnoException>(() => fd.SetLength(4096)).Errno);
        using var t = VfioUserClient.Connect(Vmm(target));

        s.SetDeviceState(S.StopCopy);
        var stream = s.ReadMigrationStream();
        t.SetDeviceState(S.Resuming);
        t.WriteMigrationStream(stream);
        t.SetDeviceState(S.Stop);
        t.SetDeviceState(S.Running);
        s.SetDeviceState(S.Running);

        using var frame = VfioDisplayClient.Capture(Display(target));
        Assert.Equal((320u, 200u), (frame.Plane.Width, frame.Plane.Height));
        AssertPattern(frame, 320, 200);
    }

    [Fact]
    public void Twenty_stalled_connections_do_not_delay_a_screenshot()
    {
        var mdev = Create();
        using var vmm = Draw(mdev, 96, 64);
        var stalled = new List<UnixSocket>();
        try
        {
            for (int i = 0; i < 20; i++) stalled.Add(UnixSocket.Connect(Display(mdev)));
            stalled[0].Send(new byte[] { 0x55 }); // one has started its request and goes quiet
            Thread.Sleep(100);                    // all accepted and waiting
            var clock = Stopwatch.StartNew();
            using (var frame = VfioDisplayClient.Capture(Display(mdev))) AssertPattern(frame, 96, 64);
            Assert.True(clock.ElapsedMilliseconds < 1000, $"the screenshot took {clock.ElapsedMilliseconds} ms");
        }
        finally
        {
            foreach (var s in stalled) s.Dispose();
        }
    }

    [Fact]
    public void Several_screenshots_at_once_are_all_served()
    {
        var mdev = Create();
        using var vmm = Draw(mdev, 96, 64);
        Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 16 }, _ =>
        {
            using var frame = VfioDisplayClient.Capture(Display(mdev));
            AssertPattern(frame, 96, 64);
        });
    }

    [Fact]
    public void A_request_sent_a_byte_at_a_time_is_cut_off_at_its_deadline()
    {
        var mdev = Create();
        using var socket = UnixSocket.Connect(Display(mdev));
        var request = new byte[DisplayRequest.Length];
        DisplayRequest.Write(request);
        var clock = Stopwatch.StartNew();
        int sent = 0;
        // A byte every 400 ms: each arrives well within 2 s of the last, the whole request would take 2.8 s.
        while (sent < request.Length - 1 && !socket.WaitReadable(400)) socket.Send(request.AsSpan(sent++, 1));
        Assert.True(socket.WaitReadable(3000));
        var reply = new byte[DisplayReply.Length];
        int n = 0, r;
        while ((r = socket.Receive(reply.AsSpan(n), null, out _)) > 0) n += r;
        long elapsed = clock.ElapsedMilliseconds;
        Assert.Equal(DisplayReply.Length, n);
        Assert.Equal((uint)Errno.EINVAL, BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(4)));
        Assert.InRange(elapsed, VfioDisplayEndpoint.RequestTimeoutMs - 200, VfioDisplayEndpoint.RequestTimeoutMs + 700);
    }
}
