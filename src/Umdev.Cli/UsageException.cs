namespace Umdev.Cli;

/// <summary>Bad command-line or config input: the command prints the message on one line and exits 2.</summary>
public sealed class UsageException(string message) : Exception(message);
