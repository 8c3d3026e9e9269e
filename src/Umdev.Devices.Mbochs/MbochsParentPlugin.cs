using Umdev.Core;

namespace Umdev.Devices.Mbochs;

/// <summary>mbochs as a plug-in of the daemon: <c>--parent mbochs[:count=MB]</c>.</summary>
public sealed class MbochsParentPlugin : IMdevParentPlugin
{
    /// <summary>The memory pool in megabytes (the module parameter's name).</summary>
    public const string CountOption = "count";

    /// <inheritdoc/>
    public string Name => "mbochs";

    /// <inheritdoc/>
    public string Description => "the kernel's mbochs sample: a Bochs display (bochs-drm) with mappable video memory, types mbochs-small/-medium/-large";

    /// <inheritdoc/>
    public IReadOnlyList<MdevParentOptionSpec> Options { get; } =
    [
        new(CountOption, MdevParentOptionKind.Int, new MbochsOptions().MemoryMb.ToString(),
            "megabytes of video memory the parent's devices share (the module parameter count)")
        {
            Min = 0,
            Max = int.MaxValue,
        },
    ];

    /// <inheritdoc/>
    public MdevParent Register(MdevCore core, MdevParentOptions options) =>
        Mbochs.Register(core, new MbochsOptions(options.GetInt(CountOption)));

    /// <inheritdoc/>
    public void Unregister(MdevCore core, MdevParent parent) => Mbochs.Unregister(core, parent);
}
