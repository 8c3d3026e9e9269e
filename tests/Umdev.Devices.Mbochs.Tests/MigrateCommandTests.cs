using System.Buffers.Binary;
using Umdev.Cli;
using Umdev.Cli.Tests;
using Umdev.Interop;
using Umdev.Sysfs.Tests;
using Umdev.VfioUser;
using Umdev.Vfio;
using Umdev.VfioUser.Client;
using static Umdev.Devices.Mbochs.Tests.MbochsFixture;

namespace Umdev.Devices.Mbochs.Tests;

/// <summary><c>umdev migrate</c> of an mbochs device between two real daemons: the destination shows the same screen.</summary>
public class MigrateCommandTests
{
    private const string Types = "class/mdev_bus/mbochs/mdev_supported_types";

    private static byte[] Screenshot(Daemon d, Guid uuid)
    {
        string png = Path.Combine(d.Dir + "-shot.png");
        var error = new StringWriter();
        Assert.True(ScreenshotCommand.Run(uuid.ToString(), png, d.SocketDir, TextWriter.Null, error) == 0, error.ToString());
        var bytes = File.ReadAllBytes(png);
        File.Delete(png);
        return bytes;
    }

    [Fact]
    public void TheDestinationsScreenshotEqualsTheSources()
    {
        using var a = Daemon.Start(null, "--parent", "mbochs");
        using var b = Daemon.Start(null, "--parent", "mbochs");
        var uuid = Guid.NewGuid();
        AttributeFile.Write(Path.Combine(a.Dir, Types, "mbochs-small", "create"), uuid.ToString());
        using (var vmm = VfioUserClient.Connect(VfioUserService.SocketPathFor(a.SocketDir, uuid)))
        {
            foreach (var (index, value) in new[] { (Bpp, 32), (Xres, 640), (Yres, 400), (VirtWidth, 640), (YOffset, 2), (Enable, 0x41) })
            {
                var v = new byte[2];
                BinaryPrimitives.WriteUInt16LittleEndian(v, (ushort)value);
                vmm.WriteRegion(Bar2, DispiBase + 2 * (uint)index, v);
            }
            using var vram = vmm.MapRegion(Bar0, 0, 4 << 20);
            DrawPattern(vram, 640, 402, 2560);
        }
        var before = Screenshot(a, uuid);

        var result = Daemon.Run("migrate", uuid.ToString(), "--from", a.Dir, "--to", b.Dir);
        result.AssertSuccess();
        Assert.Contains("(mbochs/mbochs-small)", result.Stdout);

        Assert.Equal(before, Screenshot(b, uuid));
        Assert.Equal(1, ScreenshotCommand.Run(uuid.ToString(), Path.Combine(a.Dir + "-gone.png"), a.SocketDir, TextWriter.Null, TextWriter.Null));
    }
}
