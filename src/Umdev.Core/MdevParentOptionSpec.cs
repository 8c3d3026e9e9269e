namespace Umdev.Core;

/// <summary>The form of an option's value.</summary>
public enum MdevParentOptionKind
{
    /// <summary>Any text.</summary>
    String,

    /// <summary>A decimal integer (32-bit).</summary>
    Int,

    /// <summary>Bytes: decimal digits with an optional binary suffix K, M or G (either case), e.g. <c>256M</c>.</summary>
    Size,

    /// <summary>true/false, yes/no, on/off or 1/0.</summary>
    Bool,
}

/// <summary>One option a parent plug-in accepts.</summary>
/// <param name="Key">The key in <c>key=value</c>.</param>
/// <param name="Kind">The form of its value.</param>
/// <param name="Default">The value it takes when not given (in the same form).</param>
/// <param name="Description">What it means, for help text.</param>
public sealed record MdevParentOptionSpec(string Key, MdevParentOptionKind Kind, string Default, string Description)
{
    /// <summary>Smallest value of an Int or Size option.</summary>
    public long Min { get; init; } = long.MinValue;

    /// <summary>Largest value of an Int or Size option.</summary>
    public long Max { get; init; } = long.MaxValue;

    /// <summary>E.g. <c>ports (integer ≥ 0, default 24): size of …</c>.</summary>
    public override string ToString()
    {
        string form = Kind switch
        {
            MdevParentOptionKind.Int => "integer",
            MdevParentOptionKind.Size => "size",
            MdevParentOptionKind.Bool => "boolean",
            _ => "text",
        };
        bool low = Min != long.MinValue, high = Max != long.MaxValue;
        if (low && high) form += $" {Min}..{Max}";
        else if (low) form += $" >= {Min}";
        else if (high) form += $" <= {Max}";
        return $"{Key} ({form}, default {Default}): {Description}";
    }
}
