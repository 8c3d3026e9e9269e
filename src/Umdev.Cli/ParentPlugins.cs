using Umdev.Core;
using Umdev.Devices.Mbochs;
using Umdev.Devices.Mtty;
using Umdev.Devices.VirtioBlk;

namespace Umdev.Cli;

/// <summary>
/// The parents <c>umdev serve</c> can host, by name. The first is the default: what the daemon hosts when
/// told of no parent. A new vendor driver is added here, in one line.
/// </summary>
public static class ParentPlugins
{
    public static IReadOnlyList<IMdevParentPlugin> All { get; } = [new MttyParentPlugin(), new MbochsParentPlugin(), new VirtioParentPlugin()];

    public static IMdevParentPlugin Default => All[0];

    public static IMdevParentPlugin? Find(string name) => All.FirstOrDefault(p => p.Name == name);

    /// <summary>A plug-in the program itself names (demo, benchmarks); a missing one is a build defect.</summary>
    public static IMdevParentPlugin Get(string name) =>
        Find(name) ?? throw new InvalidOperationException($"no parent plug-in {name} is registered");
}
