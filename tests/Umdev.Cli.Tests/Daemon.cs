using System.Diagnostics;
using Umdev.Interop;

namespace Umdev.Cli.Tests;

/// <summary>
/// A real <c>umdev serve</c> process (the built umdev.dll next to the tests) on a temporary mount point, with
/// its own temporary socket directory; disposing stops it with SIGTERM and removes what it left.
/// </summary>
public sealed class Daemon : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120);
    private readonly Process _process;
    private readonly Task<string> _stderr;

    private Daemon(Process process, string dir, string socketDir)
    {
        _process = process;
        Dir = dir;
        SocketDir = socketDir;
        _stderr = process.StandardError.ReadToEndAsync();
    }

    /// <summary>The built umdev command next to the tests.</summary>
    public static string UmdevDll => Path.Combine(AppContext.BaseDirectory, "umdev.dll");

    /// <summary>
    /// How the tests run umdev: the build next to them (<c>dotnet umdev.dll</c>), or the binary
    /// <c>$UMDEV_TEST_BINARY</c> names (the package check runs these tests against the .deb's Native AOT build).
    /// </summary>
    public static string[] Umdev =>
        Environment.GetEnvironmentVariable("UMDEV_TEST_BINARY") is { Length: > 0 } binary ? [binary] : ["dotnet", UmdevDll];

    /// <summary>Runs <c>umdev ARGS</c> (see <see cref="Umdev"/>) to its end.</summary>
    public static Shell.Result Run(params string[] args) => Shell.Run(Umdev[0], [.. Umdev[1..], .. args]);

    /// <summary>How to start <c>umdev ARGS</c> (see <see cref="Umdev"/>) as a process of the test's own.</summary>
    public static ProcessStartInfo StartInfo(params string[] args) => new(Umdev[0], [.. Umdev[1..], .. args]) { UseShellExecute = false };

    public string Dir { get; }

    /// <summary>The directory of the devices' vfio-user sockets (<c>--sockets</c>), this daemon's alone.</summary>
    public string SocketDir { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;

    /// <summary>Starts the daemon and waits for its <c>ready</c> line; throws with its stderr if it exits instead.</summary>
    public static Daemon Start(string? dir = null, params string[] extra) =>
        StartOn(dir ?? Directory.CreateTempSubdirectory("umdev-serve-").FullName, Directory.CreateTempSubdirectory("umdev-serve-sock-").FullName, extra);

    /// <summary>As <see cref="Start"/>, with a given socket directory (a daemon started again where a killed one served).</summary>
    public static Daemon StartOn(string dir, string socketDir, params string[] extra)
    {
        var daemon = Spawn(dir, socketDir, new Dictionary<string, string>(), [], extra);
        string? line = daemon.ReadLine();
        if (line != $"ready {dir}")
        {
            daemon.Kill();
            string stderr = daemon.Stderr();
            daemon.Dispose();
            throw new InvalidOperationException($"umdev serve did not get ready (stdout: {line}): {stderr}");
        }
        return daemon;
    }

    public static Daemon Spawn(string dir, params string[] extra) => Spawn(dir, new Dictionary<string, string>(), [], extra);

    /// <summary>With more environment, and a command to run it through (<c>[.. wrapper, .. Umdev, "serve", …]</c>).</summary>
    public static Daemon Spawn(string dir, IDictionary<string, string> env, string[] wrapper, params string[] extra) =>
        Spawn(dir, Directory.CreateTempSubdirectory("umdev-serve-sock-").FullName, env, wrapper, extra);

    private static Daemon Spawn(string dir, string socketDir, IDictionary<string, string> env, string[] wrapper, string[] extra)
    {
        // A test run started in the background (`cmd &` in a script) inherits SIGINT ignored, and .NET keeps an
        // inherited ignored SIGINT ignored: env gives the daemon the default back, as a terminal's daemon has.
        string[] argv = [.. wrapper, "/usr/bin/env", "--default-signal=INT", .. Umdev, "serve", "--sysfs", dir, "--sockets", socketDir, .. extra];
        var psi = new ProcessStartInfo(argv[0], argv[1..])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (k, v) in env) psi.Environment[k] = v;
        return new Daemon(Process.Start(psi)!, dir, socketDir);
    }

    public string? ReadLine()
    {
        var read = _process.StandardOutput.ReadLineAsync();
        return read.Wait(StartTimeout) ? read.Result : null;
    }

    /// <summary>Waits for exit (generously) and returns the exit code.</summary>
    public int WaitForExit()
    {
        if (!_process.WaitForExit(StartTimeout)) throw new TimeoutException("umdev serve did not exit");
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public string Stderr() => _stderr.Wait(StartTimeout) ? _stderr.Result : "(stderr still open)";

    public void Signal(string signal) => Shell.Run("/bin/kill", $"-{signal}", Pid.ToString()).AssertSuccess();

    public void Kill()
    {
        if (!_process.HasExited) _process.Kill();
        _process.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Signal("TERM");
            WaitForExit();
        }
        if (MountTable.Probe(Dir) == Errno.ENOTCONN) MountTable.DetachUnmount(Dir);
        try { Directory.Delete(Dir); } catch (IOException) { }
        try { Directory.Delete(SocketDir, true); } catch (IOException) { }
        _process.Dispose();
    }
}
