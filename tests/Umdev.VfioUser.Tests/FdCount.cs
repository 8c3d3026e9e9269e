namespace Umdev.VfioUser.Tests;

/// <summary>
/// The process's open descriptors of the kinds vfio-user receives and creates: sockets, eventfds and
/// memfds. What the runtime opens lazily at any time (assemblies it loads, its epoll instances and pipes,
/// its own "doublemapper" memfd) is not counted.
/// </summary>
public static class FdCount
{
    private static IEnumerable<string> Targets() => Directory.GetFiles("/proc/self/fd").Select(p =>
    {
        try { return new FileInfo(p).LinkTarget ?? ""; }
        catch (IOException) { return ""; }
    });

    private static bool Counted(string target) =>
        target.StartsWith("socket:", StringComparison.Ordinal) || target == "anon_inode:[eventfd]" ||
        (target.StartsWith("/memfd:", StringComparison.Ordinal) && !target.StartsWith("/memfd:doublemapper", StringComparison.Ordinal));

    public static int Now() => Targets().Count(Counted);

    /// <summary>Waits (generously) for the count to come back to <paramref name="expected"/> or below.</summary>
    public static void SettlesAt(int expected)
    {
        SpinWait.SpinUntil(() => Now() <= expected, TimeSpan.FromSeconds(30));
        Assert.True(Now() <= expected, $"descriptors leaked: {Now()} open, {expected} expected: " + string.Join(", ", Targets().Where(Counted)));
    }
}
