namespace Umdev.Cli;

/// <summary>Prints the demo's transcript and keeps score of its checks.</summary>
public sealed class DemoReport(TextWriter output)
{
    private readonly List<string> _failures = [];

    public int Checks { get; private set; }
    public IReadOnlyList<string> Failures => _failures;
    public TextWriter Output { get; } = output;

    /// <summary>A command as a user would type it on the real system.</summary>
    public void Shell(string command) => Output.WriteLine($"$ {command}");

    /// <summary>What the guest would print (its shell or its kernel log).</summary>
    public void Guest(string text)
    {
        foreach (var line in text.TrimEnd('\n').Split('\n')) Output.WriteLine($"  guest| {line}");
    }

    public void Line(string text = "") => Output.WriteLine(text);

    public bool Check(bool ok, string what)
    {
        Checks++;
        Output.WriteLine($"  [{(ok ? "ok" : "FAIL")}] {what}");
        if (!ok) _failures.Add(what);
        return ok;
    }

    public bool Equal<T>(T expected, T actual, string what) =>
        Check(EqualityComparer<T>.Default.Equals(expected, actual), EqualityComparer<T>.Default.Equals(expected, actual) ? what : $"{what}: expected {expected}, got {actual}");

    public int Finish()
    {
        Line();
        if (_failures.Count == 0)
        {
            Line($"demo: all {Checks} checks passed");
            return 0;
        }
        Line($"demo: {_failures.Count} of {Checks} checks FAILED");
        foreach (var f in _failures) Line($"  - {f}");
        return 1;
    }
}
