using System.Globalization;

namespace Umdev.Core;

/// <summary>
/// The options one parent plug-in was given, as <c>key=value</c> pairs checked against what it declares
/// (key, kind, range), with typed getters that fall back to the declared default. Every error is an
/// <see cref="MdevParentOptionException"/> naming the parent and the option.
/// </summary>
public sealed class MdevParentOptions
{
    private readonly IMdevParentPlugin _plugin;
    private readonly Dictionary<string, string> _values;

    private MdevParentOptions(IMdevParentPlugin plugin, Dictionary<string, string> values)
    {
        _plugin = plugin;
        _values = values;
    }

    /// <summary>The plug-in (parent) the options are for.</summary>
    public string Parent => _plugin.Name;

    /// <summary>The plug-in's defaults only.</summary>
    public static MdevParentOptions Defaults(IMdevParentPlugin plugin) => new(plugin, new(StringComparer.Ordinal));

    /// <summary>
    /// Parses <c>key=value[,key=value…]</c> (empty text: no options) and checks every value against its
    /// declaration. Refused: a pair without <c>=</c> or with an empty key, an unknown key, a key given twice,
    /// a value not of the option's kind or outside its range.
    /// </summary>
    public static MdevParentOptions Parse(IMdevParentPlugin plugin, string text)
    {
        var options = new MdevParentOptions(plugin, new(StringComparer.Ordinal));
        if (text.Length == 0) return options;
        foreach (string pair in text.Split(','))
        {
            int eq = pair.IndexOf('=');
            if (eq <= 0) throw options.Error($"'{pair}' is not key=value");
            string key = pair[..eq], value = pair[(eq + 1)..];
            var spec = plugin.Options.FirstOrDefault(o => o.Key == key)
                ?? throw options.Error($"unknown option '{key}' (accepted: {(plugin.Options.Count == 0 ? "none" : string.Join(", ", plugin.Options.Select(o => o.Key)))})");
            if (!options._values.TryAdd(key, value)) throw options.Error($"option {key} given twice");
            options.Check(spec, value);
        }
        return options;
    }

    /// <summary>True when the option was given (not just defaulted).</summary>
    public bool IsSet(string key) => _values.ContainsKey(Spec(key).Key);

    /// <summary>The option's text as given, or its declared default.</summary>
    public string GetString(string key) => _values.TryGetValue(Spec(key).Key, out var v) ? v : Spec(key).Default;

    /// <summary>A decimal integer within the option's range.</summary>
    /// <summary>An integer within the option's range.</summary>
    public int GetInt(string key) => (int)Check(Spec(key), GetString(key), MdevParentOptionKind.Int);

    /// <summary>A size in bytes (digits with an optional K, M or G) within the option's range.</summary>
    public long GetSize(string key) => Check(Spec(key), GetString(key), MdevParentOptionKind.Size);

    /// <summary>A boolean: true/false, yes/no, on/off or 1/0.</summary>
    public bool GetBool(string key) => Check(Spec(key), GetString(key), MdevParentOptionKind.Bool) != 0;

    /// <summary>Parses <paramref name="text"/> as <paramref name="kind"/> (default: the declared kind) and checks the range.</summary>
    private long Check(MdevParentOptionSpec spec, string text, MdevParentOptionKind? kind = null)
    {
        long value;
        switch (kind ?? spec.Kind)
        {
            case MdevParentOptionKind.Int:
                if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int i))
                    throw Bad(spec, text, "is not an integer");
                value = i;
                break;
            case MdevParentOptionKind.Size:
                value = ParseSize(text) ?? throw Bad(spec, text, "is not a size (digits with an optional K, M or G)");
                break;
            case MdevParentOptionKind.Bool:
                return text.ToLowerInvariant() switch
                {
                    "true" or "yes" or "on" or "1" => 1,
                    "false" or "no" or "off" or "0" => 0,
                    _ => throw Bad(spec, text, "is not a boolean (true/false, yes/no, on/off, 1/0)"),
                };
            default:
                return 0;
        }
        if (value < spec.Min) throw Bad(spec, text, $"is below the minimum {spec.Min}");
        if (value > spec.Max) throw Bad(spec, text, $"is above the maximum {spec.Max}");
        return value;
    }

    /// <summary>Bytes of <c>digits[K|M|G]</c>; null when malformed or beyond 64 bits.</summary>
    private static long? ParseSize(string text)
    {
        if (text.Length == 0) return null;
        int shift = char.ToUpperInvariant(text[^1]) switch { 'K' => 10, 'M' => 20, 'G' => 30, _ => 0 };
        string digits = shift == 0 ? text : text[..^1];
        if (digits.Length == 0 || !digits.All(char.IsAsciiDigit)
            || !long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long number)
            || number > long.MaxValue >> shift)
            return null;
        return number << shift;
    }

    private MdevParentOptionSpec Spec(string key) =>
        _plugin.Options.FirstOrDefault(o => o.Key == key)
        ?? throw new ArgumentException($"parent {_plugin.Name} declares no option {key}", nameof(key)); // a plug-in defect, not user input

    private MdevParentOptionException Bad(MdevParentOptionSpec spec, string text, string problem) => Error($"option {spec.Key}: '{text}' {problem}");

    private MdevParentOptionException Error(string problem) => new($"parent {_plugin.Name}: {problem}");

    /// <summary>The pairs given, as they would be written.</summary>
    public override string ToString() => string.Join(",", _values.Select(kv => $"{kv.Key}={kv.Value}"));
}
