using System.Buffers.Binary;
using Microsoft.Extensions.Logging.Abstractions;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Umdev.Cli;
using Umdev.Core;
using Umdev.Devices.Mtty;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.VfioUser;
using Umdev.VfioUser.Client;
using Umdev.VfioUser.Display;
using static Umdev.Devices.Mbochs.Tests.MbochsFixture;

namespace Umdev.Devices.Mbochs.Tests;

/// <summary>
/// The display socket a served mbochs device gets beside its vfio-user socket, and <c>umdev screenshot</c>
/// reading it while a VMM (here a vfio-user client that mapped BAR0) holds the device.
/// </summary>
public sealed class DisplaySocketTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("umdev-mbochs-").FullName;
    private readonly MdevCore _core = new();
    private readonly MdevParent _mbochs, _mtty;
    private readonly VfioUserService _service;

    public DisplaySocketTests()
    {
        _mbochs = Mbochs.Register(_core);
        _mtty = Umdev.Devices.Mtty.Mtty.Register(_core);
        _service = new VfioUserService(_core, _dir, NullLoggerFactory.Instance);
    }

    public void Dispose()
    {
        _service.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private MdevDevice CreateDisplay() => _core.Create(_mbochs.FindType("mbochs-small")!, Guid.NewGuid());

    /// <summary>A VMM: connected over vfio-user, mode set through BAR2, the pattern drawn into its mapping of BAR0.</summary>
    private static VfioUserClient AttachAndDraw(string socket, ushort width, ushort height)
    {
        var vmm = VfioUserClient.Connect(socket);
        void Dispi(int index, ushort value)
        {
            var b = new byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(b, value);
            vmm.WriteRegion(Bar2, DispiBase + 2 * (uint)index, b);
        }
        Dispi(Bpp, 32);
        Dispi(Xres, width);
        Dispi(Yres, height);
        Dispi(VirtWidth, width);
        Dispi(Enable, 0x41);
        using var vram = vmm.MapRegion(Bar0, 0, 4 << 20);
        DrawPattern(vram, width, height, width * 4);
        return vmm;
    }

    [Fact]
    public void TheScreenIsReadWhileAVmmHoldsTheDevice()
    {
        var mdev = CreateDisplay();
        using var vmm = AttachAndDraw(VfioUserService.SocketPathFor(_dir, mdev.Uuid), 320, 200);
        using var frame = VfioDisplayClient.Capture(VfioUserService.DisplaySocketPathFor(_dir, mdev.Uuid));
        Assert.Equal(new VfioGfxPlane(VfioGfxPlane.DrmFormatXrgb8888, 320, 200, 1280, 0, 0), frame.Plane);
        for (int y = 0; y < 200; y++)
            for (int x = 0; x < 320; x++)
                Assert.Equal(Pattern(x, y), BinaryPrimitives.ReadUInt32LittleEndian(frame.Row(y)[(4 * x)..]));
    }

    [Fact]
    public void ScreenshotWritesThePatternAsPng()
    {
        var mdev = CreateDisplay();
        using var vmm = AttachAndDraw(VfioUserService.SocketPathFor(_dir, mdev.Uuid), 160, 120);
        string png = Path.Combine(_dir, "shot.png");
        var output = new StringWriter();
        Assert.Equal(0, ScreenshotCommand.Run(mdev.Name, png, _dir, output, TextWriter.Null));
        Assert.Contains("160x120", output.ToString());
        using var image = Image.Load<Rgb24>(png); // decoding only our own file, to check it
        Assert.Equal((160, 120), (image.Width, image.Height));
        for (int y = 0; y < 120; y++)
            for (int x = 0; x < 160; x++)
            {
                uint p = Pattern(x, y);
                Assert.Equal(new Rgb24((byte)(p >> 16), (byte)(p >> 8), (byte)p), image[x, y]);
            }
    }

    [Fact]
    public void ADisabledDisplayIsAClearErrorAndNoFile()
    {
        var mdev = CreateDisplay();
        string png = Path.Combine(_dir, "none.png");
        var error = new StringWriter();
        Assert.Equal(1, ScreenshotCommand.Run(mdev.Name, png, _dir, TextWriter.Null, error));
        Assert.Contains("disabled or its mode is invalid", error.ToString());
        Assert.False(File.Exists(png));
        Assert.Equal(Errno.ENODATA, Assert.Throws<ErrnoException>(() => VfioDisplayClient.Capture(VfioUserService.DisplaySocketPathFor(_dir, mdev.Uuid))).Errno);
    }

    [Fact]
    public void OnlyDevicesWithADisplayGetADisplaySocket()
    {
        var display = CreateDisplay();
        var serial = _core.Create(_mtty.FindType("mtty-1")!, Guid.NewGuid());
        Assert.True(File.Exists(VfioUserService.DisplaySocketPathFor(_dir, display.Uuid)));
        Assert.False(File.Exists(VfioUserService.DisplaySocketPathFor(_dir, serial.Uuid)));
        Assert.Equal(1, ScreenshotCommand.Run(serial.Name, Path.Combine(_dir, "x.png"), _dir, TextWriter.Null, TextWriter.Null));
        _core.Remove(display);
        Assert.False(File.Exists(VfioUserService.DisplaySocketPathFor(_dir, display.Uuid)));
    }

    [Theory]
    [InlineData(new byte[] { 1, 2, 3 })]                                 // short
    [InlineData(new byte[] { 0x55, 0x4d, 0x44, 0x51, 2, 0, 9, 0 })]       // unknown command
    [InlineData(new byte[] { 0x55, 0x4d, 0x44, 0x51, 1, 0, 1, 0 })]       // version 1, which handed a memfd: no longer served
    [InlineData(new byte[] { 0x55, 0x4d, 0x44, 0x51, 3, 0, 1, 0 })]       // unknown version
    [InlineData(new byte[] { 0, 0, 0, 0, 2, 0, 1, 0 })]                   // bad magic
    public void BadRequestsGetEinvalAndTheSocketKeepsServing(byte[] request)
    {
        var mdev = CreateDisplay();
        string path = VfioUserService.DisplaySocketPathFor(_dir, mdev.Uuid);
        using (var socket = UnixSocket.Connect(path))
        {
            socket.Send(request);
            // A short request is answered when the daemon stops waiting for the rest.
            var reply = new byte[64];
            int n = 0, r;
            while ((r = socket.Receive(reply.AsSpan(n), null, out _)) > 0) n += r;
            Assert.Equal(DisplayReply.Length, n);
            Assert.Equal((uint)Errno.EINVAL, BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(4)));
        }
        Assert.Equal(Errno.ENODATA, Assert.Throws<ErrnoException>(() => VfioDisplayClient.Capture(path)).Errno);
    }
}
