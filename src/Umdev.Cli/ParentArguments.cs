using System.CommandLine;

namespace Umdev.Cli;

/// <summary>
/// How <c>umdev serve</c> is told which parents to host: <c>--config FILE</c>, repeatable <c>--parent
/// NAME[:key=value,…]</c>, and per plug-in option the shorthand <c>--NAME-KEY VALUE</c> (so <c>--mtty-ports
/// 6</c> is <c>--parent mtty:ports=6</c>), generated from <see cref="ParentPlugins"/>. A parent may be given
/// once, by one of them.
/// </summary>
public sealed class ParentArguments
{
    private readonly List<(Option<string?> Option, string Plugin, string Key)> _shorthands = [];

    public ParentArguments()
    {
        Parent = new Option<string[]>("--parent")
        {
            Description = "Host a parent: NAME[:key=value,...], repeatable; none given: " + ParentPlugins.Default.Name + " with its defaults. "
                + string.Join(" ", ParentPlugins.All.Select(p => $"{p.Name}: {p.Description}; options: "
                    + (p.Options.Count == 0 ? "none." : string.Join("; ", p.Options) + "."))),
        };
        Config = new Option<string?>("--config") { Description = "File of parents to host, one 'parent NAME[:key=value,...]' per line ('#' comments)" };
        foreach (var plugin in ParentPlugins.All)
        {
            foreach (var o in plugin.Options)
            {
                var flag = new Option<string?>($"--{plugin.Name}-{o.Key}") { Description = $"Same as --parent {plugin.Name}:{o.Key}=VALUE; {o}" };
                _shorthands.Add((flag, plugin.Name, o.Key));
            }
        }
    }

    public Option<string[]> Parent { get; }
    public Option<string?> Config { get; }

    public IEnumerable<Option> All => [Config, Parent, .. _shorthands.Select(s => s.Option)];

    /// <summary>What the command line said, still unparsed (parsed by <see cref="Request.Resolve"/>, where errors exit 2).</summary>
    public Request From(ParseResult r) => new(
        r.GetValue(Config),
        r.GetValue(Parent) ?? [],
        _shorthands.Select(s => (Flag: s.Option.Name, s.Plugin, s.Key, Value: r.GetValue(s.Option)))
            .Where(s => s.Value is not null)
            .GroupBy(s => s.Plugin)
            .Select(g => (Source: string.Join(" ", g.Select(s => s.Flag)), Spec: $"{g.Key}:{string.Join(",", g.Select(s => $"{s.Key}={s.Value}"))}"))
            .ToArray());

    /// <param name="ConfigFile"><c>--config</c>, if given.</param>
    /// <param name="Parents">Each <c>--parent</c> value.</param>
    /// <param name="Shorthands">Per plug-in, the <c>--NAME-KEY</c> flags given, as one spec.</param>
    public sealed record Request(string? ConfigFile, IReadOnlyList<string> Parents, IReadOnlyList<(string Source, string Spec)> Shorthands)
    {
        public static Request None { get; } = new(null, [], []);

        /// <summary>The parents in order (config file, then <c>--parent</c>, then shorthands); empty means the default.</summary>
        public IReadOnlyList<ParentSpec> Resolve()
        {
            var specs = new List<ParentSpec>();
            if (ConfigFile is not null) specs.AddRange(ParentSpec.ReadConfig(ConfigFile));
            specs.AddRange(Parents.Select(p => ParentSpec.Parse(p, $"--parent {p}")));
            specs.AddRange(Shorthands.Select(s => ParentSpec.Parse(s.Spec, s.Source)));
            ParentSpec.CheckUnique(specs);
            return specs;
        }
    }
}
