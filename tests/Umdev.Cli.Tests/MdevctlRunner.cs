namespace Umdev.Cli.Tests;

/// <summary>
/// The real Debian mdevctl (1.2.0) against a daemon, in a private mount namespace where the daemon's tree
/// is bind-mounted over /sys and a scratch directory over /etc/mdevctl.d (mdev-sysfs.md §8–§9).
/// </summary>
public sealed class MdevctlRunner : IDisposable
{
    private readonly Daemon _daemon;

    public MdevctlRunner(Daemon daemon)
    {
        _daemon = daemon;
        // 1.2.0 refuses to run without these (its self-check), even when they are empty.
        Directory.CreateDirectory(Path.Combine(Etc, "scripts.d/callouts"));
        Directory.CreateDirectory(Path.Combine(Etc, "scripts.d/notifiers"));
    }

    /// <summary>What mdevctl sees as /etc/mdevctl.d.</summary>
    public string Etc { get; } = Directory.CreateTempSubdirectory("umdev-mdevctl.d-").FullName;

    public Shell.Result Run(params string[] args) => Shell.Run("/usr/bin/unshare",
    [
        "-m", "--propagation", "private", "/bin/bash", "-c",
        "mount --bind \"$1\" /sys && mount --bind \"$2\" /etc/mdevctl.d && shift 2 && exec mdevctl \"$@\"",
        "mdevctl", _daemon.Dir, Etc, .. args,
    ]);

    public void Dispose() => Directory.Delete(Etc, true);
}
