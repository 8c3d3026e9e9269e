using System.Xml.Linq;
using Umdev.Sysfs.Tests;

namespace Umdev.Cli.Tests;

/// <summary><c>umdev --version</c>: the one version the packages, the .deb and the image carry.</summary>
public sealed class VersionTests
{
    [Fact]
    public void Version_prints_the_packages_version_and_nothing_else()
    {
        string props = Path.Combine(RepositoryTools.Find()!.Root, "src", "Directory.Build.props");
        string version = XDocument.Load(props).Descendants("Version").Single().Value;
        var r = Daemon.Run("--version");
        r.AssertSuccess();
        Assert.Equal(version + "\n", r.Stdout);
    }
}
