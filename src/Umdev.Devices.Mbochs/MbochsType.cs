using Umdev.Core;
using Umdev.Vfio;

namespace Umdev.Devices.Mbochs;

/// <summary>
/// One kind of mbochs device (the sample's <c>mbochs_types</c>, mbochs.md §1.1): its video memory (BAR0)
/// and the largest mode it advertises through the EDID region (0: no limit).
/// </summary>
public sealed record MbochsType(MdevTypeSpec Spec, int MemoryMb, ushort MaxXres, ushort MaxYres)
{
    /// <summary>4 MB, up to 800x600.</summary>
    public static readonly MbochsType Small = new(new("small", "mbochs-small", VfioPci.DeviceApi), 4, 800, 600);
    /// <summary>16 MB, up to 1920x1440.</summary>
    public static readonly MbochsType Medium = new(new("medium", "mbochs-medium", VfioPci.DeviceApi), 16, 1920, 1440);
    /// <summary>64 MB, no limit but the memory.</summary>
    public static readonly MbochsType Large = new(new("large", "mbochs-large", VfioPci.DeviceApi), 64, 0, 0);

    /// <summary>The types in the order <c>mdev_supported_types</c> lists them.</summary>
    public static IReadOnlyList<MbochsType> All { get; } = [Small, Medium, Large];

    /// <summary>Bytes of video memory.</summary>
    public ulong MemorySize => (ulong)MemoryMb << 20;
}
