namespace Umdev.Devices.Mbochs;

/// <summary>The Bochs DISPI (VBE) registers at BAR2 + 0x500 (mbochs.md §1.4), 16 bits each.</summary>
internal static class Dispi
{
    public const int Id = 0, Xres = 1, Yres = 2, Bpp = 3, Enable = 4, Bank = 5, VirtWidth = 6, VirtHeight = 7,
        XOffset = 8, YOffset = 9, VideoMemory64K = 10, Count = 11;

    /// <summary>VBE_DISPI_ID5, what the sample reports.</summary>
    public const ushort Id5 = 0xB0C5;

    public const ushort Enabled = 0x01;

    /// <summary>The register window: BAR2 offsets 0x500 to 0x515.</summary>
    public const int First = 0x500, Last = 0x515;

    /// <summary>The smallest width and height the sample shows.</summary>
    public const int MinResolution = 64;
}
