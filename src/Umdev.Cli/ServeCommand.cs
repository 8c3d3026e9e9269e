using System.CommandLine;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Umdev.Core;
using Umdev.Interop;
using Umdev.VfioUser;

namespace Umdev.Cli;

/// <summary>
/// <c>umdev serve</c>: the foreground daemon. Registers the parents it is given (see <see cref="ParentArguments"/>), mounts the sysfs tree, serves
/// every device on its own vfio-user socket, prints <c>ready &lt;dir&gt;</c> once the mount answers, and
/// unmounts on SIGTERM/SIGINT.
/// </summary>
public static class ServeCommand
{
    // Raw Linux numbers: PosixSignal names only the signals every platform has.
    private const PosixSignal SignalUser1 = (PosixSignal)10;
    private const PosixSignal SignalUser2 = (PosixSignal)12;

    public const string DefaultSysfs = "/run/umdev/sys";
    public const string DefaultSockets = "/run/umdev/vfio-user";

    public static Command Create()
    {
        var sysfs = new Option<string?>("--sysfs") { Description = $"Directory to mount the sysfs tree on (the tree's /sys); default {DefaultSysfs}, created if missing" };
        var sockets = new Option<string>("--sockets") { Description = "Directory for the devices' vfio-user sockets", DefaultValueFactory = _ => DefaultSockets };
        var parents = new ParentArguments();
        var removeTimeout = new Option<double>("--remove-timeout") { Description = "Seconds a remove waits for a connected vfio-user client to leave before failing with EBUSY", DefaultValueFactory = _ => 10 };
        var versionTimeout = new Option<double>("--version-timeout") { Description = "Seconds a new vfio-user client has to complete VERSION before it is disconnected", DefaultValueFactory = _ => 10 };
        var command = new Command("serve", $"Run the umdev daemon in the foreground: its parents (default {ParentPlugins.Default.Name}), sysfs tree over FUSE, a vfio-user socket per device")
        {
            sysfs, sockets, removeTimeout, versionTimeout,
        };
        foreach (var o in parents.All) command.Options.Add(o);
        command.SetAction(r => Run(r.GetValue(sysfs), r.GetValue(sockets)!, parents.From(r), Console.Out, Console.Error,
            TimeSpan.FromSeconds(r.GetValue(removeTimeout)), TimeSpan.FromSeconds(r.GetValue(versionTimeout))));
        return command;
    }

    public static int Run(string? sysfsDir, string socketsDir, ParentArguments.Request parents, TextWriter stdout, TextWriter stderr, TimeSpan? removeTimeout = null,
        TimeSpan? versionTimeout = null)
    {
        using var loggers = ServeLogging.CreateFactory();
        var logger = loggers.CreateLogger(ServeLogging.Category);
        IReadOnlyList<ParentSpec> parentSpecs;
        try
        {
            parentSpecs = parents.Resolve();
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"umdev serve: {e.Message}");
            return 2;
        }
        if (removeTimeout is { } t && (t < TimeSpan.Zero || t > TimeSpan.FromDays(1)))
        {
            stderr.WriteLine("umdev serve: --remove-timeout must be between 0 and 86400 seconds");
            return 2;
        }
        if (versionTimeout is { } v && (v <= TimeSpan.Zero || v > TimeSpan.FromDays(1)))
        {
            stderr.WriteLine("umdev serve: --version-timeout must be above 0 and at most 86400 seconds");
            return 2;
        }
        var defaults = new VfioUserServiceOptions();
        var vfioUser = defaults with
        {
            RemoveTimeout = removeTimeout ?? defaults.RemoveTimeout,
            Server = defaults.Server with { VersionTimeout = versionTimeout ?? defaults.Server.VersionTimeout },
        };
        using var stop = new ManualResetEventSlim();
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true; // we exit ourselves, after unmounting
            logger.LogInformation(ServeLogging.ShuttingDown, "{Signal}: shutting down", context.Signal);
            stop.Set();
        }
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        // Their default action kills the daemon with the mount left stale and every VM's device gone: a stray
        // `kill -HUP` (or a reload some tool assumes) must not do that. There is nothing to reload, so they are logged.
        void OnIgnored(PosixSignalContext context)
        {
            context.Cancel = true;
            string name = context.Signal == SignalUser1 ? "SIGUSR1" : context.Signal == SignalUser2 ? "SIGUSR2" : "SIGHUP";
            logger.LogWarning(ServeLogging.SignalIgnored, "{Signal} ignored (SIGTERM or SIGINT stops the daemon)", name);
        }
        using var hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnIgnored);
        using var user1 = PosixSignalRegistration.Create(SignalUser1, OnIgnored);
        using var user2 = PosixSignalRegistration.Create(SignalUser2, OnIgnored);

        UmdevDaemon? daemon = null;
        try
        {
            string dir = sysfsDir ?? DefaultSysfs;
            if (sysfsDir is null) Directory.CreateDirectory(dir);
            daemon = UmdevDaemon.Start(dir, socketsDir, parentSpecs, loggers, vfioUser, new DeviceLog(loggers.CreateLogger(DeviceLog.Category)));
            stdout.WriteLine($"ready {daemon.Mount.MountPoint}");
            stdout.Flush();
            SystemdNotify.Send($"READY=1\nSTATUS=serving {daemon.Mount.MountPoint}", logger);
            stop.Wait();
            SystemdNotify.Send("STOPPING=1", logger);
            return 0;
        }
        catch (MdevParentOptionException e) // a value only the plug-in can judge, found as it registers
        {
            stderr.WriteLine($"umdev serve: {e.Message}");
            return 2;
        }
        catch (ErrnoException e)
        {
            stderr.WriteLine($"umdev serve: {e.Message}");
            return 1;
        }
        catch (IOException e)
        {
            stderr.WriteLine($"umdev serve: {e.Message}");
            return 1;
        }
        catch (UnauthorizedAccessException e)
        {
            stderr.WriteLine($"umdev serve: {e.Message}");
            return 1;
        }
        finally
        {
            daemon?.Dispose();
        }
    }
}
