using Umdev.Core;
using Umdev.Vfio;

namespace Umdev.Devices.Mtty;

/// <summary>mtty as a plug-in of the daemon: <c>--parent mtty[:ports=N,intx=pending|level|sample]</c>.</summary>
public sealed class MttyParentPlugin : IMdevParentPlugin
{
    public const string PortsOption = "ports";
    public const string IntxOption = "intx";

    /// <summary>The <c>intx</c> values and what each means to the model.</summary>
    private static readonly (string Name, VfioIntxUnmask Unmask)[] IntxValues =
    [
        ("pending", VfioIntxUnmask.Pending),
        ("level", VfioIntxUnmask.Level),
        ("sample", VfioIntxUnmask.Never),
    ];

    public string Name => "mtty";

    public string Description => "the kernel's mtty sample: a PCI card with one (mtty-1) or two (mtty-2) 16550A UARTs";

    public IReadOnlyList<MdevParentOptionSpec> Options { get; } =
    [
        new(PortsOption, MdevParentOptionKind.Int, new MttyOptions().Ports.ToString(), "size of the port pool the parent's devices share (the kernel's MAX_MTTYS)")
        {
            Min = 0,
        },
        new(IntxOption, MdevParentOptionKind.String, "pending",
            "what an INTx unmask does while a port still shows a condition: pending (signal again only an event raised while masked), " +
            "level (signal again while asserted), sample (never; the kernel sample loses events raised while masked)"),
    ];

    public MdevParent Register(MdevCore core, MdevParentOptions options) =>
        Mtty.Register(core, new MttyOptions(options.GetInt(PortsOption), ParseIntx(options.GetString(IntxOption))));

    public void Unregister(MdevCore core, MdevParent parent) => Mtty.Unregister(core, parent);

    private VfioIntxUnmask ParseIntx(string value)
    {
        foreach (var (name, unmask) in IntxValues)
            if (name == value) return unmask;
        throw new MdevParentOptionException(
            $"parent {Name}: option {IntxOption}: '{value}' is not one of {string.Join(", ", IntxValues.Select(v => v.Name))}");
    }
}
