using Umdev.Core;

namespace Umdev.Core.Tests;

public class MdevParentOptionsTests
{
    /// <summary>A plug-in that only declares options.</summary>
    private sealed class Declared : IMdevParentPlugin
    {
        public string Name => "demo";
        public string Description => "options only";
        public IReadOnlyList<MdevParentOptionSpec> Options { get; } =
        [
            new("ports", MdevParentOptionKind.Int, "24", "pool") { Min = 0, Max = 1000 },
            new("memory", MdevParentOptionKind.Size, "16M", "display memory") { Min = 1 << 20 },
            new("edid", MdevParentOptionKind.Bool, "off", "offer an EDID"),
            new("label", MdevParentOptionKind.String, "", "free text"),
        ];
        public MdevParent Register(MdevCore core, MdevParentOptions options) => throw new NotSupportedException();
        public void Unregister(MdevCore core, MdevParent parent) => throw new NotSupportedException();
    }

    private static readonly Declared Plugin = new();

    private static string ErrorOf(string text) => Assert.Throws<MdevParentOptionException>(() => MdevParentOptions.Parse(Plugin, text)).Message;

    [Fact]
    public void Defaults_apply_to_options_not_given()
    {
        var o = MdevParentOptions.Parse(Plugin, "");
        Assert.Equal(24, o.GetInt("ports"));
        Assert.Equal(16L << 20, o.GetSize("memory"));
        Assert.False(o.GetBool("edid"));
        Assert.Equal("", o.GetString("label"));
        Assert.False(o.IsSet("ports"));
        Assert.Equal(24, MdevParentOptions.Defaults(Plugin).GetInt("ports"));
    }

    [Fact]
    public void Given_values_are_read_in_their_kind()
    {
        var o = MdevParentOptions.Parse(Plugin, "ports=4,memory=256M,edid=yes,label=a b=c");
        Assert.Equal(4, o.GetInt("ports"));
        Assert.Equal(256L << 20, o.GetSize("memory"));
        Assert.True(o.GetBool("edid"));
        Assert.Equal("a b=c", o.GetString("label")); // only the first '=' separates
        Assert.True(o.IsSet("memory"));
        Assert.Equal("ports=4,memory=256M,edid=yes,label=a b=c", o.ToString());
    }

    [Theory]
    [InlineData("1048576", 1L << 20)]
    [InlineData("1024k", 1L << 20)]
    [InlineData("2048K", 2L << 20)]
    [InlineData("2m", 2L << 20)]
    [InlineData("3G", 3L << 30)]
    [InlineData("8589934591G", 8589934591L << 30)]
    public void Sizes_take_binary_suffixes(string text, long bytes)
    {
        var plugin = new Declared();
        var o = MdevParentOptions.Parse(plugin, $"memory={text}");
        Assert.Equal(bytes, o.GetSize("memory"));
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("ON", true)]
    [InlineData("1", true)]
    [InlineData("No", false)]
    [InlineData("false", false)]
    [InlineData("0", false)]
    public void Booleans_take_the_usual_words(string text, bool value) =>
        Assert.Equal(value, MdevParentOptions.Parse(Plugin, $"edid={text}").GetBool("edid"));

    [Theory]
    [InlineData("prots=4", "parent demo: unknown option 'prots' (accepted: ports, memory, edid, label)")]
    [InlineData("ports=4,ports=5", "parent demo: option ports given twice")]
    [InlineData("ports", "parent demo: 'ports' is not key=value")]
    [InlineData("=4", "parent demo: '=4' is not key=value")]
    [InlineData("ports=4,", "parent demo: '' is not key=value")]
    [InlineData("ports=four", "parent demo: option ports: 'four' is not an integer")]
    [InlineData("ports= 4", "parent demo: option ports: ' 4' is not an integer")]
    [InlineData("ports=4294967296", "parent demo: option ports: '4294967296' is not an integer")]
    [InlineData("ports=-1", "parent demo: option ports: '-1' is below the minimum 0")]
    [InlineData("ports=1001", "parent demo: option ports: '1001' is above the maximum 1000")]
    [InlineData("memory=256MB", "parent demo: option memory: '256MB' is not a size (digits with an optional K, M or G)")]
    [InlineData("memory=M", "parent demo: option memory: 'M' is not a size (digits with an optional K, M or G)")]
    [InlineData("memory=-1M", "parent demo: option memory: '-1M' is not a size (digits with an optional K, M or G)")]
    [InlineData("memory=8589934592G", "parent demo: option memory: '8589934592G' is not a size (digits with an optional K, M or G)")]
    [InlineData("memory=1023K", "parent demo: option memory: '1023K' is below the minimum 1048576")]
    [InlineData("edid=maybe", "parent demo: option edid: 'maybe' is not a boolean (true/false, yes/no, on/off, 1/0)")]
    public void Bad_input_names_the_parent_and_the_option(string text, string message) => Assert.Equal(message, ErrorOf(text));

    [Fact]
    public void A_getter_of_an_undeclared_key_is_a_plugin_defect() =>
        Assert.Throws<ArgumentException>(() => MdevParentOptions.Defaults(Plugin).GetInt("nosuch"));

    [Fact]
    public void An_option_spec_describes_its_form_and_default()
    {
        Assert.Equal("ports (integer 0..1000, default 24): pool", Plugin.Options[0].ToString());
        Assert.Equal("memory (size >= 1048576, default 16M): display memory", Plugin.Options[1].ToString());
        Assert.Equal("edid (boolean, default off): offer an EDID", Plugin.Options[2].ToString());
    }
}
