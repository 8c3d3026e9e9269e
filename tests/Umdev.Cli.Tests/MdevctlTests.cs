namespace Umdev.Cli.Tests;

/// <summary>The real Debian mdevctl (1.2.0) against the daemon's mtty parent (see <see cref="MdevctlRunner"/>).</summary>
public class MdevctlTests : IDisposable
{
    private const string U = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001";
    private readonly Daemon _daemon = Daemon.Start();
    private readonly MdevctlRunner _mdevctl;

    public MdevctlTests() => _mdevctl = new MdevctlRunner(_daemon);

    private string Etc => _mdevctl.Etc;

    public void Dispose()
    {
        _daemon.Dispose();
        _mdevctl.Dispose();
    }

    private Shell.Result Mdevctl(params string[] args) => _mdevctl.Run(args);

    private static string Types(int single, int dual) =>
        $"mtty\n  mtty-1\n    Available instances: {single}\n    Device API: vfio-pci\n    Name: Single port serial\n" +
        $"  mtty-2\n    Available instances: {dual}\n    Device API: vfio-pci\n    Name: Dual port serial\n\n";

    [Fact]
    public void TypesListsBothTypesWithTheirInstances()
    {
        Assert.Equal(Types(24, 12), Mdevctl("types").AssertSuccess().Stdout);
        Assert.Contains("\"available_instances\": 12,", Mdevctl("types", "--dumpjson").AssertSuccess().Stdout);
    }

    [Fact]
    public void StartListStop()
    {
        Assert.Equal("", Mdevctl("start", "-u", U, "-p", "mtty", "--type", "mtty-2").AssertSuccess().Stdout);
        Assert.True(Directory.Exists(Path.Combine(_daemon.Dir, "devices/virtual/mtty/mtty", U)));
        Assert.Equal($"{U} mtty mtty-2 manual\n\n", Mdevctl("list").AssertSuccess().Stdout);
        Assert.Equal(
            "[\n  {\n    \"mtty\": [\n      {\n        \"" + U + "\": {\n          \"mdev_type\": \"mtty-2\",\n" +
            "          \"start\": \"manual\",\n          \"attrs\": []\n        }\n      }\n    ]\n  }\n]\n",
            Mdevctl("list", "--dumpjson").AssertSuccess().Stdout);
        Assert.Equal(Types(22, 11), Mdevctl("types").Stdout);

        Mdevctl("stop", "-u", U).AssertSuccess();
        Assert.Equal("\n", Mdevctl("list").AssertSuccess().Stdout);
        Assert.Equal(Types(24, 12), Mdevctl("types").Stdout);
    }

    [Fact]
    public void DefineStartListUndefine()
    {
        Mdevctl("define", "-u", U, "-p", "mtty", "--type", "mtty-1").AssertSuccess();
        Assert.Equal("{\n  \"mdev_type\": \"mtty-1\",\n  \"start\": \"manual\",\n  \"attrs\": []\n}",
            File.ReadAllText(Path.Combine(Etc, "mtty", U)));
        Assert.Equal($"{U} mtty mtty-1 manual\n\n", Mdevctl("list", "-d").AssertSuccess().Stdout);
        Assert.Equal("\n", Mdevctl("list").Stdout);

        Mdevctl("start", "-u", U).AssertSuccess();
        Assert.Equal($"{U} mtty mtty-1 manual (defined)\n\n", Mdevctl("list").AssertSuccess().Stdout);
        Assert.Equal($"{U} mtty mtty-1 manual (active)\n\n", Mdevctl("list", "-d").AssertSuccess().Stdout);
        Assert.Equal($"This is MDEV {U}\n", File.ReadAllText(Path.Combine(_daemon.Dir, "bus/mdev/devices", U, "vendor/sample_mdev_dev")));

        Mdevctl("stop", "-u", U).AssertSuccess();
        Mdevctl("undefine", "-u", U).AssertSuccess();
        Assert.Equal("\n", Mdevctl("list", "-d").AssertSuccess().Stdout);
        Assert.False(File.Exists(Path.Combine(Etc, "mtty", U)));
    }

    [Fact]
    public void OverCommitFailsWithMdevctlsError()
    {
        for (int i = 0; i < 12; i++) Mdevctl("start", "-p", "mtty", "--type", "mtty-2").AssertSuccess();
        var r = Mdevctl("start", "-u", U, "-p", "mtty", "--type", "mtty-1");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("Error: No available instances of mtty-1 on mtty\n", r.Stderr);
        Assert.Equal(12, Mdevctl("list").Stdout.Split('\n').Count(l => l.EndsWith(" mtty mtty-2 manual", StringComparison.Ordinal)));
        Assert.False(Directory.Exists(Path.Combine(_daemon.Dir, "bus/mdev/devices", U)));
    }

    [Fact]
    public void DuplicateStartIsRefused()
    {
        Mdevctl("start", "-u", U, "-p", "mtty", "--type", "mtty-2").AssertSuccess();
        var r = Mdevctl("start", "-u", U, "-p", "mtty", "--type", "mtty-2");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("Device already exists", r.Stderr);
    }
}
