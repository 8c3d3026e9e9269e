namespace Umdev.Hostile.Tests;

/// <summary>
/// Signals whose default action is to be ignored, or that the runtime ignores (SIGPIPE: a client that hangs up
/// mid-reply), do not stop the daemon; nor do SIGHUP, SIGUSR1 and SIGUSR2, whose default action would (the daemon
/// logs and ignores them: a stray reload must not take every VM's device away).
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
    [InlineData("HUP")]
    [InlineData("USR1")]
    [InlineData("USR2")]
    public void AnIgnoredSignalLeavesTheDaemonServing(string signal)
    {
        d.Daemon.Signal(signal);
        Thread.Sleep(300);
        d.AssertHealthy();
    }
}
