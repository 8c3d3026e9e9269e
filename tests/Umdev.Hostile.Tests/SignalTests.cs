namespace Umdev.Hostile.Tests;

/// <summary>
/// Signals whose default action is to be ignored, or that the runtime ignores (SIGPIPE: a client that hangs up
/// mid-reply), do not stop the daemon. SIGHUP, SIGUSR1 and SIGUSR2 keep their default action (terminate, leaving a
/// stale mount the next start recovers); only root can send them to the daemon, so no tenant can.
/// </summary>
[Collection(HostileCollection.Name)]
public sealed class SignalTests(HostileDaemon daemon)
{
    private readonly HostileDaemon d = daemon.Revived();

    [Theory]
    [InlineData("PIPE")]
    [InlineData("WINCH")]
    [InlineData("CHLD")]
    [InlineData("URG")]
    [InlineData("CONT")]
    public void AnIgnoredSignalLeavesTheDaemonServing(string signal)
    {
        d.Daemon.Signal(signal);
        Thread.Sleep(300);
        d.AssertHealthy();
    }
}
