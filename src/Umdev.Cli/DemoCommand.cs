using System.CommandLine;

namespace Umdev.Cli;

/// <summary><c>umdev demo</c>: the kernel documentation's mtty walkthrough, end to end.</summary>
public static class DemoCommand
{
    public static Command Create()
    {
        var command = new Command("demo", "Replay the kernel's mtty walkthrough end to end; exits non-zero if any check fails");
        command.SetAction(_ => Run(Console.Out));
        return command;
    }

    public static int Run(TextWriter output)
    {
        output.WriteLine("demo: not yet");
        return 1;
    }
}
