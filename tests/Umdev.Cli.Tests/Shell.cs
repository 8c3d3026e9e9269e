using System.Diagnostics;

namespace Umdev.Cli.Tests;

/// <summary>Runs a command as a separate process and captures what it printed.</summary>
public static class Shell
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public Result AssertSuccess()
        {
            Assert.True(ExitCode == 0, $"exit {ExitCode}: {Stderr}{Stdout}");
            return this;
        }
    }

    public static Result Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return new Result(p.ExitCode, stdout, stderr.Result);
    }

    /// <summary>bash -c (bash reports a failed echo's errno; dash says only "I/O error").</summary>
    public static Result Sh(string script) => Run("/bin/bash", "-c", script);
}
