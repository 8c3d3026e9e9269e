using Umdev.Interop;

namespace Umdev.Cli;

/// <summary>A device migration failed at <see cref="Step"/> with <see cref="Errno"/>; the source was left running.</summary>
public sealed class MigrationFailedException(string step, Errno errno, string detail) : Exception($"{step} failed: {errno} ({detail})")
{
    public string Step { get; } = step;
    public Errno Errno { get; } = errno;
}
