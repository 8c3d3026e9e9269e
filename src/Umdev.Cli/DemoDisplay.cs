using Umdev.Core;
using Umdev.Guest;
using Umdev.VfioUser;
using Umdev.VfioUser.Client;
using Umdev.VfioUser.Display;

namespace Umdev.Cli;

/// <summary>
/// The demo's display part: an mbochs-small device, the C# guest's Bochs driver sets a mode and draws a test
/// pattern into the mapped video memory, and the screen is read back through the display socket while the
/// guest still holds the device, checked pixel for pixel and saved as a PNG.
/// </summary>
public static class DemoDisplay
{
    public const string DemoUuid = "83b8f4f2-509f-382f-3c1e-e6bfe0fa2001";
    private const string TypesPath = "/sys/devices/virtual/mbochs/mbochs/mdev_supported_types";
    private const int Width = 800, Height = 600;

    /// <summary>Where the demo saves its screenshot.</summary>
    public static string ScreenshotPath => Path.Combine(Path.GetTempPath(), "umdev-demo-mbochs.png");

    public static void Walkthrough(DemoReport report, MdevCore core, string socketDir)
    {
        var plugin = ParentPlugins.Get("mbochs");
        var parent = plugin.Register(core, MdevParentOptions.Defaults(plugin));
        report.Line();
        report.Line("umdev demo — mbochs, the kernel's mediated display sample: a Bochs display whose video memory the VMM maps");
        report.Shell($"echo \"{DemoUuid}\" > {TypesPath}/mbochs-small/create");
        var mdev = core.Create(parent.FindType("mbochs-small")!, MdevUuid.Parse(DemoUuid));
        string socket = VfioUserService.SocketPathFor(socketDir, mdev.Uuid);
        string display = VfioUserService.DisplaySocketPathFor(socketDir, mdev.Uuid);
        report.Check(File.Exists(socket) && File.Exists(display), "served on its vfio-user socket, its screen on a display socket beside it");
        using (var device = VfioUserClient.Connect(socket))
        using (var guest = BochsDisplayGuest.Boot(device))
        {
            report.Guest($"[drm] Found bochs VGA, ID 0x{guest.Id:x4}.");
            report.Guest($"bochs-drm: {guest.MemorySize >> 20} MB video memory, BAR0 mapped");
            report.Equal(4ul << 20, guest.MemorySize, "4 MB of video memory (mbochs-small)");
            guest.SetMode(Width, Height);
            guest.DrawTestPattern();
            report.Guest($"bochs-drm: mode {Width}x{Height} XRGB8888; colour bars drawn into the framebuffer (no message per pixel)");

            report.Shell($"umdev screenshot {DemoUuid} -o {ScreenshotPath}");
            using var frame = VfioDisplayClient.Capture(display);
            report.Equal((Width, Height), ((int)frame.Plane.Width, (int)frame.Plane.Height), $"the scanout is the guest's {Width}x{Height} mode");
            report.Check(ShowsTestPattern(frame), "the scanout, read while the guest holds the device, equals its test pattern pixel for pixel");
            ScreenshotPng.Write(frame, ScreenshotPath);
            report.Line($"screenshot saved to {ScreenshotPath}");
        }
        report.Shell($"echo 1 > /sys/bus/mdev/devices/{DemoUuid}/remove");
        core.Remove(mdev);
        report.Check(!File.Exists(display), "the display socket is gone with the device");
    }

    private static bool ShowsTestPattern(VfioDisplayFrame frame)
    {
        for (int y = 0; y < Height; y++)
        {
            var row = frame.Row(y);
            for (int x = 0; x < Width; x++)
                if ((System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(row[(4 * x)..]) & 0xFFFFFF) != BochsDisplayGuest.TestPattern(x, y, Width, Height))
                    return false;
        }
        return true;
    }
}
