using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Umdev.Cli;

/// <summary>
/// The daemon's log: every level on stderr (stdout carries only the ready line), one line per event,
/// categories <c>umdev.&lt;area&gt;</c> (serve, mdev, sysfs, vfio-user) with event ids numbered by area
/// (1xx serve, 2xx mdev, 3xx sysfs, 4xx vfio-user; docs/service.md lists them). On a terminal each line
/// has a timestamp; when stderr is the journal (systemd sets <c>$JOURNAL_STREAM</c>) it has none, the journal
/// stamps it, and starts with the syslog priority (<c>&lt;6&gt;</c> = info) that journald reads.
/// </summary>
public static class ServeLogging
{
    public const string Category = "umdev.serve";
    public static readonly EventId ShuttingDown = new(101, nameof(ShuttingDown));
    public static readonly EventId NotifyFailed = new(102, nameof(NotifyFailed));
    public static readonly EventId SignalIgnored = new(103, nameof(SignalIgnored));

    public static ILoggerFactory CreateFactory() => LoggerFactory.Create(b =>
    {
        b.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        if (StderrIsJournal()) b.AddSystemdConsole(o => o.TimestampFormat = null);
        else b.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
        b.SetMinimumLevel(LogLevel.Information);
    });

    /// <summary>
    /// systemd.exec(5): <c>$JOURNAL_STREAM</c> is "device:inode" of the stream connected to the journal; it is
    /// inherited by children whose stderr may go elsewhere, so it counts only when stderr is that socket.
    /// </summary>
    public static bool StderrIsJournal() =>
        IsJournal(Environment.GetEnvironmentVariable("JOURNAL_STREAM"), new FileInfo("/proc/self/fd/2").LinkTarget);

    /// <param name="journalStream">The variable's value, e.g. <c>8:31274</c>.</param>
    /// <param name="stderrLink">What <c>/proc/self/fd/2</c> links to, e.g. <c>socket:[31274]</c> (sockets share one device, so the inode decides).</param>
    public static bool IsJournal(string? journalStream, string? stderrLink) =>
        journalStream?.Split(':') is [_, { Length: > 0 } inode] && stderrLink == $"socket:[{inode}]";
}
