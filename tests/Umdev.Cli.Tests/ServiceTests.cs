using System.Net.Sockets;
using System.Text;
using Umdev.Interop;
using Umdev.Sysfs;

namespace Umdev.Cli.Tests;

/// <summary><c>umdev serve</c> under systemd: sd_notify readiness on $NOTIFY_SOCKET, journal-friendly log lines.</summary>
public class ServiceTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReadyIsNotifiedOnceTheTreeAnswersAndStoppingOnSigterm(bool abstractName)
    {
        string scratch = Directory.CreateTempSubdirectory("umdev-notify-").FullName;
        string name = abstractName ? $"@umdev-test-{Guid.NewGuid():N}" : Path.Combine(scratch, "notify");
        using var systemd = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        systemd.Bind(new UnixDomainSocketEndPoint(abstractName ? "\0" + name[1..] : name));
        systemd.ReceiveTimeout = (int)Timeout.TotalMilliseconds;
        string dir = Directory.CreateTempSubdirectory("umdev-serve-").FullName;
        try
        {
            using var daemon = Daemon.Spawn(dir, new Dictionary<string, string> { [SystemdNotify.Variable] = name }, []);
            Assert.Equal($"READY=1\nSTATUS=serving {dir}", Receive(systemd));
            // Ready means the tree answers, as the ready line does.
            Assert.Equal(SysfsMount.FileSystemType, MountTable.FileSystemAt(dir));
            Assert.Equal("24\n", File.ReadAllText(Path.Combine(dir, "class/mdev_bus/mtty/mdev_supported_types/mtty-1/available_instances")));
            Assert.Equal($"ready {dir}", daemon.ReadLine());
            daemon.Signal("TERM");
            Assert.Equal("STOPPING=1", Receive(systemd));
            Assert.Equal(0, daemon.WaitForExit());
            Assert.DoesNotContain("sd_notify", daemon.Stderr());
        }
        finally
        {
            Directory.Delete(scratch, true);
        }
    }

    [Fact]
    public void AnUnreachableNotifySocketIsAWarningAndTheDaemonServes()
    {
        using var daemon = Daemon.Spawn(Directory.CreateTempSubdirectory("umdev-serve-").FullName,
            new Dictionary<string, string> { [SystemdNotify.Variable] = "/nonexistent/notify" }, []);
        Assert.Equal($"ready {daemon.Dir}", daemon.ReadLine());
        daemon.Signal("TERM");
        Assert.Equal(0, daemon.WaitForExit());
        Assert.Contains("umdev.serve[102] sd_notify: NOTIFY_SOCKET=/nonexistent/notify: ", daemon.Stderr());
    }

    /// <summary>
    /// stderr connected to a stream socket named by $JOURNAL_STREAM, as systemd connects a service to journald
    /// (perl, part of every Debian system, makes the socket pair and relays what the daemon writes).
    /// </summary>
    [Fact]
    public void UnderTheJournalLinesCarryPriorityCategoryAndEventIdButNoTimestamp()
    {
        const string journal = """
            use Socket; socketpair(my $r, my $w, AF_UNIX, SOCK_STREAM, 0) or die "socketpair: $!";
            my @st = stat($w); $ENV{JOURNAL_STREAM} = "$st[0]:$st[1]";
            if (fork() == 0) { close $w; print STDERR $_ while <$r>; exit 0 }
            close $r; open(STDERR, ">&", $w) or die; close $w; exec @ARGV or die "exec: $!";
            """;
        using var daemon = Daemon.Spawn(Directory.CreateTempSubdirectory("umdev-serve-").FullName,
            new Dictionary<string, string>(), ["/usr/bin/perl", "-e", journal]);
        Assert.Equal($"ready {daemon.Dir}", daemon.ReadLine());
        daemon.Signal("TERM");
        Assert.Equal(0, daemon.WaitForExit());
        string[] lines = daemon.Stderr().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("<6>umdev.sysfs[301] sysfs tree mounted at " + daemon.Dir, lines);
        Assert.Contains("<6>umdev.mdev[201] parent mtty registered with types mtty-1, mtty-2", lines);
        Assert.Contains("<6>umdev.serve[101] SIGTERM: shutting down", lines);
        Assert.All(lines, l => Assert.Matches(@"^<[0-7]>umdev\.(serve|mdev|sysfs|vfio-user)\[[1-4]\d\d\] ", l));
    }

    [Fact]
    public void OnATerminalLinesCarryATimestampCategoryAndEventId()
    {
        using var daemon = Daemon.Start();
        daemon.Signal("TERM");
        Assert.Equal(0, daemon.WaitForExit());
        string[] lines = daemon.Stderr().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(lines, l => Assert.Matches(@"^\d\d:\d\d:\d\d\.\d{3} (info|warn|fail|crit): umdev\.(serve|mdev|sysfs|vfio-user)\[[1-4]\d\d\] ", l));
        Assert.Contains(lines, l => l.EndsWith(" info: umdev.mdev[201] parent mtty registered with types mtty-1, mtty-2"));
    }

    [Theory]
    [InlineData("8:31274", "socket:[31274]", true)]
    [InlineData("8:31274", "socket:[31275]", false)] // inherited from a service, stderr elsewhere
    [InlineData("8:31274", "pipe:[31274]", false)]
    [InlineData(null, "socket:[31274]", false)]
    [InlineData("", "socket:[31274]", false)]
    [InlineData("31274", "socket:[31274]", false)]
    public void TheJournalIsStderrOnlyWhenJournalStreamNamesIt(string? journalStream, string stderrLink, bool expected) =>
        Assert.Equal(expected, ServeLogging.IsJournal(journalStream, stderrLink));

    private static string Receive(Socket socket)
    {
        var buffer = new byte[4096];
        return Encoding.UTF8.GetString(buffer, 0, socket.Receive(buffer));
    }
}
