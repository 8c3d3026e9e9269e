namespace Umdev.VfioUser.Tests;

/// <summary>
/// The process's open descriptors of the kinds vfio-user handles (sockets, eventfds, memfds and other
/// files). The runtime's own epoll instances and wake-up pipes, which it may create lazily at any time
/// (async I/O of the test host), are not counted.
/// </summary>
public static class FdCount
{
    private static IEnumerable<string> Targets() => Directory.GetFiles("/proc/self/fd").Select(p =>
    {
        try { return new FileInfo(p).LinkTarget ?? ""; }
        catch (IOException) { return ""; }
    });

    private static bool Counted(string target) =>
        target.Length > 0 && target != "anon_inode:[eventpoll]" && !target.StartsWith("pipe:", StringComparison.Ordinal);

    public static int Now() => Targets().Count(Counted);

    /// <summary>Waits (generously) for the count to come back to <paramref name="expected"/> or below.</summary>
    public static void SettlesAt(int expected)
    {
        SpinWait.SpinUntil(() => Now() <= expected, TimeSpan.FromSeconds(30));
        Assert.True(Now() <= expected, $"descriptors leaked: {Now()} open, {expected} expected: " + string.Join(", ", Targets().Where(Counted)));
    }
}
