using Umdev.Core;

namespace Umdev.Devices.Mtty;

/// <summary>mtty as a plug-in of the daemon: <c>--parent mtty[:ports=N]</c>.</summary>
public sealed class MttyParentPlugin : IMdevParentPlugin
{
    public const string PortsOption = "ports";

    public string Name => "mtty";

    public string Description => "the kernel's mtty sample: a PCI card with one (mtty-1) or two (mtty-2) 16550A UARTs";

    public IReadOnlyList<MdevParentOptionSpec> Options { get; } =
    [
        new(PortsOption, MdevParentOptionKind.Int, new MttyOptions().Ports.ToString(), "size of the port pool the parent's devices share (the kernel's MAX_MTTYS)")
        {
            Min = 0,
        },
    ];

    public MdevParent Register(MdevCore core, MdevParentOptions options) =>
        Mtty.Register(core, new MttyOptions(options.GetInt(PortsOption)));

    public void Unregister(MdevCore core, MdevParent parent) => Mtty.Unregister(core, parent);
}
