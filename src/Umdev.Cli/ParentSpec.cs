using Umdev.Core;

namespace Umdev.Cli;

/// <summary>One parent the daemon is to host: its plug-in, its options, and where it was asked for (for errors).</summary>
public sealed record ParentSpec(IMdevParentPlugin Plugin, MdevParentOptions Options, string Source)
{
    /// <summary>The plug-in's parent with its defaults.</summary>
    public static ParentSpec Defaults(IMdevParentPlugin plugin, string source = "default") =>
        new(plugin, MdevParentOptions.Defaults(plugin), source);

    /// <summary>
    /// Parses <c>NAME[:key=value[,key=value…]]</c> against <see cref="ParentPlugins"/>. Errors are
    /// <see cref="UsageException"/>s that start with <paramref name="source"/> (the option or FILE:LINE).
    /// </summary>
    public static ParentSpec Parse(string text, string source)
    {
        int colon = text.IndexOf(':');
        string name = colon < 0 ? text : text[..colon];
        if (name.Length == 0) throw new UsageException($"{source}: no parent name (expected NAME[:key=value,...])");
        var plugin = ParentPlugins.Find(name)
            ?? throw new UsageException($"{source}: unknown parent '{name}' (known: {string.Join(", ", ParentPlugins.All.Select(p => p.Name))})");
        try
        {
            return new ParentSpec(plugin, MdevParentOptions.Parse(plugin, colon < 0 ? "" : text[(colon + 1)..]), source);
        }
        catch (MdevParentOptionException e)
        {
            throw new UsageException($"{source}: {e.Message}");
        }
    }

    /// <summary>
    /// The parents of a config file: one <c>parent NAME[:key=value,…]</c> per line; blank lines and lines
    /// starting with <c>#</c> (after blanks) are ignored. Errors name FILE:LINE.
    /// </summary>
    public static IReadOnlyList<ParentSpec> ReadConfig(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--config {path}: {e.Message}");
        }
        var specs = new List<ParentSpec>();
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            string where = $"{path}:{i + 1}";
            string[] words = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (words is not ["parent", var spec])
                throw new UsageException($"{where}: expected 'parent NAME[:key=value,...]', got '{line}'");
            specs.Add(Parse(spec, where));
        }
        return specs;
    }

    /// <summary>Refuses a parent asked for twice, naming both places.</summary>
    public static void CheckUnique(IReadOnlyList<ParentSpec> specs)
    {
        for (int i = 0; i < specs.Count; i++)
        {
            var first = specs.Take(i).FirstOrDefault(s => s.Plugin == specs[i].Plugin);
            if (first is not null) throw new UsageException($"{specs[i].Source}: parent {specs[i].Plugin.Name} is already given by {first.Source}");
        }
    }
}
