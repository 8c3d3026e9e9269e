using System.Diagnostics;

namespace Umdev.Sysfs.Tests;

/// <summary>Runs a command as a separate process and captures what it printed.</summary>
public static class Shell
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        /// <summary>Asserts exit status 0; on failure shows <paramref name="context"/> and everything the command printed.</summary>
        public Result AssertSuccess(string? context = null)
        {
            Assert.True(ExitCode == 0, $"{(context is null ? "" : context + ": ")}exit {ExitCode}: {Stderr}{Stdout}");
            return this;
        }

        /// <summary>Asserts a non-zero exit status with <paramref name="message"/> on stderr.</summary>
        public Result AssertFails(string message)
        {
            Assert.NotEqual(0, ExitCode);
            Assert.Contains(message, Stderr);
            return this;
        }
    }

    public static Result Run(string file, params string[] args) => Run(file, null, args);

    public static Result Run(string file, IDictionary<string, string>? env, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return new Result(p.ExitCode, stdout, stderr.Result);
    }

    /// <summary>
    /// bash -c <paramref name="script"/>. Not /bin/sh: Debian's dash reports every failed echo as
    /// "I/O error", whatever the errno; bash prints the errno's text ("write error: Invalid argument").
    /// </summary>
    public static Result Sh(string script) => Run("/bin/bash", "-c", script);
}
