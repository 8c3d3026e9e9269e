namespace Umdev.VfioUser.Tests;

/// <summary>The process's open descriptors (server and tests share the process).</summary>
public static class FdCount
{
    public static int Now() => Directory.GetFiles("/proc/self/fd").Length;

    /// <summary>Waits (generously) for the count to come back to <paramref name="expected"/> or below.</summary>
    public static void SettlesAt(int expected)
    {
        SpinWait.SpinUntil(() => Now() <= expected, TimeSpan.FromSeconds(30));
        Assert.True(Now() <= expected, $"descriptors leaked: {Now()} open, {expected} expected");
    }
}
