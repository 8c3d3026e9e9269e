namespace Umdev.Cli;

/// <summary>
/// The scripts of the repository's <c>tools/</c> directory that <c>umdev vm</c> runs (the guest builder and
/// runner, the QEMU finder and builder). umdev is built inside its checkout (<c>.build/umdev</c>, or a
/// project's <c>bin/</c>), so the checkout is the nearest directory above the binary that holds them.
/// </summary>
public sealed class RepositoryTools
{
    private const string Marker = "tools/guest/run-guest.sh";

    private RepositoryTools(string root) => Root = root;

    /// <summary>The checkout's top directory.</summary>
    public string Root { get; }

    public string RunGuest => Path.Combine(Root, "tools/guest/run-guest.sh");
    public string FindQemu => Path.Combine(Root, "tools/qemu/find-qemu.sh");
    public string BenchMbochs => Path.Combine(Root, "tools/guest/bench-mbochs.sh");

    /// <summary>The checkout above <paramref name="start"/> (default: this binary's directory), or null.</summary>
    public static RepositoryTools? Find(string? start = null)
    {
        for (var dir = new DirectoryInfo(start ?? AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, Marker))) return new RepositoryTools(dir.FullName);
        }
        return null;
    }
}
