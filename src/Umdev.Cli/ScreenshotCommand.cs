using System.CommandLine;
using Umdev.Core;
using Umdev.Interop;
using Umdev.VfioUser;
using Umdev.VfioUser.Display;

namespace Umdev.Cli;

/// <summary>
/// <c>umdev screenshot &lt;uuid&gt; -o FILE.png</c>: the device's current scanout as a PNG, read through its
/// display socket, so it works while a VMM holds the vfio-user socket.
/// </summary>
public static class ScreenshotCommand
{
    public static Command Create()
    {
        var uuid = new Argument<string>("uuid") { Description = "The mdev UUID of a device with a display (mbochs)" };
        var output = new Option<string>("--output", "-o") { Description = "The PNG file to write", Required = true };
        var sockets = new Option<string>("--sockets")
        {
            Description = "Directory of the daemon's sockets",
            DefaultValueFactory = _ => VfioUserServiceOptions.DefaultSocketDirectory,
        };
        var command = new Command("screenshot", "Write a served display's current scanout as a PNG (works while a VMM is attached)");
        command.Arguments.Add(uuid);
        command.Options.Add(output);
        command.Options.Add(sockets);
        command.SetAction(r => Run(r.GetValue(uuid)!, r.GetValue(output)!, r.GetValue(sockets)!, Console.Out, Console.Error));
        return command;
    }

    public static int Run(string uuidText, string outputPath, string socketDirectory, TextWriter output, TextWriter error)
    {
        if (!MdevUuid.TryParse(uuidText, out var uuid))
        {
            error.WriteLine($"umdev screenshot: '{uuidText}' is not a UUID");
            return 2;
        }
        string path = VfioUserService.DisplaySocketPathFor(socketDirectory, uuid);
        try
        {
            using var frame = VfioDisplayClient.Capture(path);
            ScreenshotPng.Write(frame, outputPath);
            output.WriteLine($"{outputPath}: {frame.Plane.Width}x{frame.Plane.Height}");
            return 0;
        }
        catch (ErrnoException e) when (e.Errno == Errno.ENOENT)
        {
            error.WriteLine($"umdev screenshot: {path}: no display socket (is the device served, and does it have a display?)");
            return 1;
        }
        catch (ErrnoException e)
        {
            error.WriteLine($"umdev screenshot: {uuidText}: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"umdev screenshot: {outputPath}: {e.Message}");
            return 1;
        }
    }
}
