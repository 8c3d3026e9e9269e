using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.Guest;

/// <summary>
/// A guest's Bochs display driver (what Linux's bochs-drm does, mbochs.md §2), over any client: the firmware
/// assigns the BARs, the probe checks the DISPI ID and the video memory, <see cref="SetMode"/> programs an
/// XRGB8888 mode with 16-bit DISPI writes through BAR2, and <see cref="Framebuffer"/> is BAR0 mapped from
/// the descriptor the device hands out, so drawing costs no message.
/// </summary>
public sealed class BochsDisplayGuest : IDisposable
{
    private const uint MemoryBar = 0, MmioBar = 2;
    private const ulong DispiBase = 0x500;
    private const int IndexId = 0, IndexXres = 1, IndexYres = 2, IndexBpp = 3, IndexEnable = 4, IndexBank = 5,
        IndexVirtWidth = 6, IndexVirtHeight = 7, IndexXOffset = 8, IndexYOffset = 9, IndexVideoMemory64K = 10;
    private const ushort EnabledWithLinearFramebuffer = 0x41;

    private BochsDisplayGuest(IVfioClientDevice device, PciFunction function, ushort id, ulong memorySize, MemoryMapping framebuffer)
    {
        Device = device;
        Function = function;
        Id = id;
        MemorySize = memorySize;
        Framebuffer = framebuffer;
    }

    public IVfioClientDevice Device { get; }
    public PciFunction Function { get; }

    /// <summary>The DISPI ID register (0xB0C5 for mbochs).</summary>
    public ushort Id { get; }

    /// <summary>Bytes of video memory (BAR0, and VIDEO_MEMORY_64K × 64 KiB).</summary>
    public ulong MemorySize { get; }

    /// <summary>BAR0, mapped shared and writable.</summary>
    public MemoryMapping Framebuffer { get; }

    /// <summary>Width, height and stride of the mode set last (0 before).</summary>
    public (int Width, int Height, int Stride) Mode { get; private set; }

    /// <summary>
    /// Firmware then probe (<c>bochs_pci_probe</c>/<c>bochs_hw_init</c>): BAR0 at least 4 MiB, BAR2 a memory
    /// BAR, <c>(id &amp; 0xfff0) == 0xb0c0</c>, the video memory the smaller of the register and BAR0. ENODEV
    /// when the device is not a Bochs display.
    /// </summary>
    public static BochsDisplayGuest Boot(IVfioClientDevice device)
    {
        var function = PciFirmware.Configure(new PciConfigAccess(device), [], 0);
        if (function.VendorId != 0x1234 || function.DeviceId != 0x1111) ThrowHelper.Throw(Errno.ENODEV, "not a Bochs display");
        var bar0 = function.Bars.FirstOrDefault(b => b.Index == MemoryBar);
        var bar2 = function.Bars.FirstOrDefault(b => b.Index == MmioBar);
        if (bar0.Size < 4 << 20 || bar0.IsIo || bar2.Size == 0 || bar2.IsIo) ThrowHelper.Throw(Errno.ENODEV, "BAR0 or BAR2 missing");
        ushort id = ReadDispi(device, IndexId);
        if ((id & 0xfff0) != 0xb0c0) ThrowHelper.Throw(Errno.ENODEV, $"ID mismatch 0x{id:x4}");
        ulong memory = Math.Min((ulong)ReadDispi(device, IndexVideoMemory64K) * 0x10000, bar0.Size);
        return new BochsDisplayGuest(device, function, id, memory, device.MapRegion(MemoryBar, 0, bar0.Size));
    }

    /// <summary>
    /// <c>bochs_hw_setmode</c>: blank through the VGA port area, then ENABLE=0, BPP=32, XRES, YRES, BANK=0,
    /// VIRT_WIDTH, VIRT_HEIGHT = memory / stride, the offsets 0, ENABLE = enabled | linear framebuffer.
    /// EINVAL for a mode that needs more than half the memory (<c>drm_vram_helper_mode_valid</c>).
    /// </summary>
    public void SetMode(int width, int height)
    {
        int stride = width * 4;
        if (width <= 0 || height <= 0 || width > ushort.MaxValue || (ulong)stride * (ulong)height > MemorySize / 2)
            ThrowHelper.Throw(Errno.EINVAL, $"mode {width}x{height} does not fit");
        Span<byte> port = stackalloc byte[1];
        Device.ReadRegion(MmioBar, 0x41a, port);                       // VGA_IS1_RC: reset the attribute flip-flop
        port[0] = 0x20;
        Device.WriteRegion(MmioBar, 0x400, port);                      // VGA_ATT_W: palette access off (unblank)
        WriteDispi(IndexEnable, 0);
        WriteDispi(IndexBpp, 32);
        WriteDispi(IndexXres, (ushort)width);
        WriteDispi(IndexYres, (ushort)height);
        WriteDispi(IndexBank, 0);
        WriteDispi(IndexVirtWidth, (ushort)width);
        WriteDispi(IndexVirtHeight, (ushort)Math.Min(MemorySize / (ulong)stride, ushort.MaxValue));
        WriteDispi(IndexXOffset, 0);
        WriteDispi(IndexYOffset, 0);
        WriteDispi(IndexEnable, EnabledWithLinearFramebuffer);
        Mode = (width, height, stride);
    }

    /// <summary>Writes one XRGB8888 pixel into the framebuffer (no message: the mapping is the device's memory).</summary>
    public void Put(int x, int y, uint xrgb) =>
        BinaryPrimitives.WriteUInt32LittleEndian(Framebuffer.Span((ulong)(y * Mode.Stride + 4 * x), 4), xrgb);

    /// <summary>
    /// The test pattern the demo draws: eight vertical colour bars (white, yellow, cyan, green, magenta,
    /// red, blue, black) over the top two thirds, a horizontal grey ramp below.
    /// </summary>
    public static uint TestPattern(int x, int y, int width, int height)
    {
        if (y < height * 2 / 3)
        {
            int bar = x * 8 / width;
            uint r = (bar & 2) == 0 ? 0xC0u : 0, g = bar < 4 ? 0xC0u : 0, b = (bar & 1) == 0 ? 0xC0u : 0;
            if (bar == 7) r = g = b = 0;
            return r << 16 | g << 8 | b;
        }
        uint level = (uint)(x * 255 / Math.Max(width - 1, 1));
        return level << 16 | level << 8 | level;
    }

    /// <summary>Draws <see cref="TestPattern"/> over the whole mode.</summary>
    public void DrawTestPattern()
    {
        var (width, height, _) = Mode;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) Put(x, y, TestPattern(x, y, width, height));
    }

    private void WriteDispi(int index, ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, value);
        Device.WriteRegion(MmioBar, DispiBase + 2 * (ulong)index, b);
    }

    private static ushort ReadDispi(IVfioClientDevice device, int index)
    {
        Span<byte> b = stackalloc byte[2];
        device.ReadRegion(MmioBar, DispiBase + 2 * (ulong)index, b);
        return BinaryPrimitives.ReadUInt16LittleEndian(b);
    }

    /// <summary>Unmaps the framebuffer.</summary>
    public void Dispose() => Framebuffer.Dispose();
}
