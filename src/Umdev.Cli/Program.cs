using System.CommandLine;

namespace Umdev.Cli;

/// <summary>The <c>umdev</c> command. Each subcommand lives in its own file and contributes a <see cref="Command"/>.</summary>
public static class Program
{
    public static int Main(string[] args) => BuildRoot().Parse(args).Invoke();

    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("umdev: Linux VFIO mediated devices (mdev) in user space, served over vfio-user");
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(DevicePluginCommand.Create());
        root.Subcommands.Add(LspciCommand.Create());
        root.Subcommands.Add(ScreenshotCommand.Create());
        root.Subcommands.Add(MigrateCommand.Create());
        root.Subcommands.Add(VmCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        return root;
    }
}
