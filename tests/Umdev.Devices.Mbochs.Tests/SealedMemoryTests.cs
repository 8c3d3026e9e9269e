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
/// What a client does cannot reach the device: the video memory's memfd cannot be resized, the display
/// socket gives pixels and no descriptor, and clients that stall on the display socket delay no one.
/// Through the real sockets.
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

    /// <summary>
    /// The display socket asked by hand, with <paramref name="attach"/> sent along the request: everything
    /// that came back, and the descriptors with it.
    /// </summary>
    private static (byte[] Reply, List<FileDescriptorHandle> Fds) Ask(string path, FileDescriptorHandle? attach = null)
    {
        using var socket = UnixSocket.Connect(path);
        var request = new byte[DisplayRequest.Length];
        DisplayRequest.Write(request);
        if (attach is null) socket.Send(request);
        else socket.Send(request, [attach]);
        var fds = new List<FileDescriptorHandle>();
        var received = new MemoryStream();
        var buffer = new byte[1 << 16];
        int n;
        while ((n = socket.Receive(buffer, fds, out _)) > 0) received.Write(buffer, 0, n);
        return (received.ToArray(), fds);
    }

    private static void AssertPattern(VfioDisplayFrame frame, int width, int height)
    {
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                Assert.Equal(Pattern(x, y), BinaryPrimitives.ReadUInt32LittleEndian(frame.Row(y)[(4 * x)..]));
    }

    [Fact]
    public void The_reply_carries_the_plane_then_its_pixels_and_no_descriptor()
    {
        var mdev = Create();
        using var vmm = Draw(mdev, 96, 64);
        var (reply, fds) = Ask(Display(mdev));
        Assert.Empty(fds);
        Assert.Equal(DisplayReply.Length + 96 * 4 * 64, reply.Length); // the plane's bytes, not the 4 MiB
        Assert.Equal(96ul * 4 * 64, BinaryPrimitives.ReadUInt64LittleEndian(reply.AsSpan(40)));
        Assert.Equal(0ul, BinaryPrimitives.ReadUInt64LittleEndian(reply.AsSpan(32))); // offset into the pixels that follow
        var pixels = reply.AsSpan(DisplayReply.Length);
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 96; x++)
                Assert.Equal(Pattern(x, y), BinaryPrimitives.ReadUInt32LittleEndian(pixels[((y * 96 + x) * 4)..]));
    }

    [Fact]
    public void Nothing_the_client_does_changes_video_memory()
    {
        var mdev = Create();
        using var vmm = Draw(mdev, 96, 64);
        // A descriptor offered along the request (the daemon closes it unused), the pixels received then scribbled on.
        using (var offered = MemFd.Create("offered", 4096))
        {
            var (reply, fds) = Ask(Display(mdev), offered);
            Assert.Empty(fds);
            Assert.Equal(DisplayReply.Length + 96 * 4 * 64, reply.Length);
            reply.AsSpan(DisplayReply.Length).Fill(0xFF);
        }
        using (var frame = VfioDisplayClient.Capture(Display(mdev)))
            System.Runtime.CompilerServices.Unsafe.AsRef(in frame.Row(0)[0]) = 0xFF; // a frame's bytes are the client's own
        var video = new byte[96 * 4 * 64];
        Assert.Equal(video.Length, vmm.ReadRegion(Bar0, 0, video));
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 96; x++)
                Assert.Equal(Pattern(x, y), BinaryPrimitives.ReadUInt32LittleEndian(video.AsSpan((y * 96 + x) * 4)));
        using var next = VfioDisplayClient.Capture(Display(mdev));
        AssertPattern(next, 96, 64);
    }

    [Fact]
    public void A_client_refuses_a_reply_with_a_descriptor_attached()
    {
        string path = Path.Combine(_dir, "fake-display.sock");
        using var listener = UnixSocket.Listen(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var fake = Task.Run(() =>
        {
            using var socket = listener.Accept()!;
            var request = new byte[DisplayRequest.Length];
            socket.Receive(request, null, out _);
            var reply = new byte[DisplayReply.Length];
            new DisplayReply(0, new VfioGfxPlane(VfioGfxPlane.DrmFormatXrgb8888, 64, 64, 256, 0, 0), 256 * 64).Write(reply);
            using var memory = MemFd.Create("memory", 256 * 64);
            socket.Send(reply, [memory]);
            // The client refuses at the reply and may have closed already: the pixels then meet EPIPE.
            try { socket.Send(new byte[256 * 64]); }
            catch (ErrnoException e) when (e.Errno is Errno.EPIPE or Errno.ECONNRESET) { }
        });
        Assert.Equal(Errno.EPROTO, Assert.Throws<ErrnoException>(() => VfioDisplayClient.Capture(path)).Errno);
        fake.Wait();
    }

    [Theory]
    [InlineData(64u, 64u, 256u, 256ul * 64 - 1)]                // fewer pixel bytes than stride x height
    [InlineData(64u, 64u, 256u, 256ul * 64 + 1)]                // more
    [InlineData(8192u, 4096u, 32768u, 32768ul * 4096)]          // 128 MiB: over the bound, refused before allocating
    [InlineData(65536u, 65536u, 262144u, 0ul)]                  // stride x height overflows 32 bits
    public void A_client_refuses_pixel_sizes_other_than_a_bounded_stride_times_height(uint width, uint height, uint stride, ulong pixelBytes)
    {
        var reply = new byte[DisplayReply.Length];
        new DisplayReply(0, new VfioGfxPlane(VfioGfxPlane.DrmFormatXrgb8888, width, height, stride, 0, 0), pixelBytes).Write(reply);
        Assert.Equal(Errno.EPROTO, Assert.Throws<ErrnoException>(() => DisplayReply.Parse(reply)).Errno);
    }

    [Fact]
    public void A_frame_does_not_follow_later_drawing()
    {
        var mdev = Create();
        using var vmm = Draw(mdev, 64, 64);
        using var frame = VfioDisplayClient.Capture(Display(mdev));
        vmm.WriteRegion(Bar0, 0, [1, 2, 3, 4]);
        Assert.Equal(Pattern(0, 0), BinaryPrimitives.ReadUInt32LittleEndian(frame.Row(0)));
    }

    [Fact]
    public void A_disposed_frame_no_longer_shows_rows()
    {
        var mdev = Create();
        using var vmm = Draw(mdev, 64, 64);
        var frame = VfioDisplayClient.Capture(Display(mdev));
        frame.Dispose(); // its buffer is back in the pool, another frame's to fill
        Assert.Throws<ObjectDisposedException>(() => frame.Row(0).Length);
        frame.Dispose();
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
    public void Clients_that_ask_and_never_read_the_pixels_delay_no_screenshot()
    {
        var mdev = Create();
        using var vmm = Draw(mdev, 800, 600); // 1.9 MB: more than a socket buffer holds, so their sends block
        var stalled = new List<UnixSocket>();
        try
        {
            var request = new byte[DisplayRequest.Length];
            DisplayRequest.Write(request);
            for (int i = 0; i < VfioDisplayEndpoint.MaxConnections; i++)
            {
                var s = UnixSocket.Connect(Display(mdev));
                stalled.Add(s);
                s.Send(request);
            }
            Thread.Sleep(200); // every serving thread stuck sending
            for (int i = 0; i < 3; i++)
            {
                var clock = Stopwatch.StartNew();
                using var frame = VfioDisplayClient.Capture(Display(mdev));
                long took = clock.ElapsedMilliseconds;
                AssertPattern(frame, 800, 600);
                Assert.True(took < 2000, $"the screenshot took {took} ms");
            }
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
