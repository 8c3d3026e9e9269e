using Umdev.Interop;
using Umdev.Vfio;
using static Umdev.Devices.Mbochs.Tests.MbochsFixture;

namespace Umdev.Devices.Mbochs.Tests;

/// <summary>mbochs.md §1.5: the region plane the model answers from the DISPI state, and the modes it refuses.</summary>
public class PlaneTests
{
    [Fact]
    public void AModeSetAsBochsDrmSetsItIsAnXrgb8888RegionPlane()
    {
        using var f = new MbochsFixture();
        Assert.Equal(VfioGfxPlane.None, f.File.QueryGfxPlane());
        f.SetMode(800, 600);
        // mbochs.md §1.6: the sample fails the first query after a mode change with ENOMEM.
        Assert.Equal(new VfioGfxPlane(VfioGfxPlane.DrmFormatXrgb8888, 800, 600, 3200, 0, 0), f.File.QueryGfxPlane());
    }

    [Fact]
    public void PanningMovesThePlanesOffsetAndVirtualWidthItsStride()
    {
        using var f = new MbochsFixture();
        f.SetMode(640, 480);
        f.WriteDispi(VirtWidth, 700);
        f.WriteDispi(XOffset, 3);
        f.WriteDispi(YOffset, 10);
        var plane = f.File.QueryGfxPlane();
        Assert.Equal((2800u, 3ul * 4 + 10 * 2800), (plane.Stride, plane.Offset));
    }

    [Theory]
    [InlineData(24, 640, 480)]   // BPP other than 32
    [InlineData(16, 640, 480)]
    [InlineData(32, 63, 480)]    // below 64 pixels
    [InlineData(32, 640, 63)]
    [InlineData(32, 1024, 768)]  // beyond the small type's 800x600 (and its 3 MiB would fit the 4 MiB memory)
    [InlineData(32, 800, 601)]
    public void InvalidModesShowNoPlane(ushort bpp, ushort width, ushort height)
    {
        using var f = new MbochsFixture();
        f.SetMode(width, height, bpp);
        Assert.Equal(VfioGfxPlane.None, f.File.QueryGfxPlane());
    }

    [Fact]
    public void AModeBeyondTheMemoryShowsNoPlane()
    {
        using var f = new MbochsFixture("mbochs-large"); // no type maximum: only the 64 MB memory limits it
        f.SetMode(8192, 2048);
        Assert.True(f.File.QueryGfxPlane().IsEnabled); // exactly 64 MiB
        f.SetMode(8192, 2049);
        Assert.Equal(VfioGfxPlane.None, f.File.QueryGfxPlane());
    }

    [Fact]
    public void OffsetsPastTheMemoryShowNoPlane()
    {
        using var f = new MbochsFixture();
        f.SetMode(800, 600);
        f.WriteDispi(YOffset, 711); // 711 + 600 rows of 3200 bytes > 4 MiB
        Assert.Equal(VfioGfxPlane.None, f.File.QueryGfxPlane());
        f.WriteDispi(YOffset, 710);
        Assert.True(f.File.QueryGfxPlane().IsEnabled);
        f.WriteDispi(XOffset, 0xffff);
        Assert.Equal(VfioGfxPlane.None, f.File.QueryGfxPlane());
    }

    [Fact]
    public void DisablingTheDisplayRemovesThePlane()
    {
        using var f = new MbochsFixture();
        f.SetMode(800, 600);
        f.WriteDispi(Enable, 0);
        Assert.Equal(VfioGfxPlane.None, f.File.QueryGfxPlane());
    }

    [Fact]
    public void ARemovedDeviceAnswersEnodev()
    {
        using var f = new MbochsFixture();
        var device = f.File.Device;
        f.Core.Remove(f.Mdev);
        Assert.Equal(Errno.ENODEV, Assert.Throws<ErrnoException>(() => device.QueryGfxPlane()).Errno);
    }
}
