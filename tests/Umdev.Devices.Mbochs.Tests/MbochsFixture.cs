using System.Buffers.Binary;
using Umdev.Core;
using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.Devices.Mbochs.Tests;

/// <summary>A core with the mbochs parent, one device of the requested type and an open device file.</summary>
internal sealed class MbochsFixture : IDisposable
{
    public const uint Bar0 = 0, Bar2 = 2, EdidRegion = 9;
    public const uint DispiBase = 0x500;
    public const int Id = 0, Xres = 1, Yres = 2, Bpp = 3, Enable = 4, VirtWidth = 6, VirtHeight = 7, XOffset = 8, YOffset = 9, VideoMemory64K = 10;

    public MbochsFixture(string type = "mbochs-small", int poolMb = 256)
    {
        Core = new MdevCore();
        Parent = Mbochs.Register(Core, new MbochsOptions(poolMb));
        Mdev = Core.Create(Parent.FindType(type)!, Guid.NewGuid());
        File = ((VfioDevice)Mdev.DriverData!).Open();
    }

    public MdevCore Core { get; }
    public MdevParent Parent { get; }
    public MdevDevice Mdev { get; }
    public VfioDeviceFile File { get; }

    public ushort ReadDispi(int index)
    {
        Span<byte> b = stackalloc byte[2];
        File.ReadRegion(Bar2, DispiBase + 2 * (uint)index, b);
        return BinaryPrimitives.ReadUInt16LittleEndian(b);
    }

    public void WriteDispi(int index, ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, value);
        File.WriteRegion(Bar2, DispiBase + 2 * (uint)index, b);
    }

    /// <summary>What bochs-drm's <c>bochs_hw_setmode</c> writes for an XRGB8888 mode.</summary>
    public void SetMode(ushort width, ushort height, ushort bpp = 32)
    {
        WriteDispi(Enable, 0);
        WriteDispi(Bpp, bpp);
        WriteDispi(Xres, width);
        WriteDispi(Yres, height);
        WriteDispi(5, 0);
        WriteDispi(VirtWidth, width);
        WriteDispi(VirtHeight, (ushort)Math.Min(ushort.MaxValue, 4u * 1024 * 1024 / (width * 4u)));
        WriteDispi(XOffset, 0);
        WriteDispi(YOffset, 0);
        WriteDispi(Enable, 0x41);
    }

    /// <summary>BAR0 mapped as a VMM maps it: from the descriptor GET_REGION_INFO hands out.</summary>
    public MemoryMapping MapVram() => File.MapRegion(Bar0, 0, File.GetRegionInfo(Bar0).Size);

    /// <summary>A pixel of a known pattern, XRGB8888 as a little-endian u32.</summary>
    public static uint Pattern(int x, int y) => (uint)((x * 7 + y * 13) & 0xFF) << 16 | (uint)((x ^ y) & 0xFF) << 8 | (uint)((x + 3 * y) & 0xFF);

    public static void DrawPattern(MemoryMapping vram, int width, int height, int stride, ulong offset = 0)
    {
        for (int y = 0; y < height; y++)
        {
            var row = vram.Span(offset + (ulong)(y * stride), width * 4);
            for (int x = 0; x < width; x++) BinaryPrimitives.WriteUInt32LittleEndian(row[(4 * x)..], Pattern(x, y));
        }
    }

    public void Dispose()
    {
        File.Dispose();
        Mbochs.Unregister(Core, Parent);
    }
}
