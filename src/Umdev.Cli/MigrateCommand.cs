using System.CommandLine;
using System.Globalization;
using Umdev.Core;

namespace Umdev.Cli;

/// <summary><c>umdev migrate &lt;uuid&gt; --from SYSFS --to SYSFS</c>: moves a live device between two <c>umdev serve</c> daemons.</summary>
public static class MigrateCommand
{
    public static Command Create()
    {
        var uuid = new Argument<string>("uuid") { Description = "The device to move" };
        var from = new Option<string>("--from") { Description = "Mounted sysfs tree of the source daemon (its --sysfs)", Required = true };
        var to = new Option<string>("--to") { Description = "Mounted sysfs tree of the destination daemon", Required = true };
        var timeout = new Option<double>("--timeout") { Description = "Seconds the whole move may take before it is rolled back", DefaultValueFactory = _ => 30 };
        var command = new Command("migrate", "Move a live mediated device (its state, and its UUID) from one umdev daemon to another over vfio-user")
        {
            uuid, from, to, timeout,
        };
        command.SetAction(r => Run(r.GetValue(uuid)!, r.GetValue(from)!, r.GetValue(to)!, r.GetValue(timeout), Console.Out, Console.Error));
        return command;
    }

    public static int Run(string uuidText, string from, string to, double timeoutSeconds, TextWriter stdout, TextWriter stderr)
    {
        if (!MdevUuid.TryParse(uuidText, out var uuid))
        {
            stderr.WriteLine($"umdev migrate: '{uuidText}' is not a UUID");
            return 2;
        }
        if (timeoutSeconds is <= 0 or > 86400)
        {
            stderr.WriteLine("umdev migrate: --timeout must be between 0 and 86400 seconds");
            return 2;
        }
        try
        {
            var report = new DeviceMigration(from, to, TimeSpan.FromSeconds(timeoutSeconds), stderr).Move(uuid);
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"migrated {MdevUuid.ToName(uuid)} ({report.Parent}/{report.Type}): {report.StreamBytes} stream bytes ({report.PrecopyBytes} precopy), downtime {report.Downtime.TotalMilliseconds:F3} ms"));
            return 0;
        }
        catch (MigrationFailedException e)
        {
            stderr.WriteLine($"umdev migrate: {e.Message}");
            return 1;
        }
    }
}
