using Microsoft.Extensions.Logging.Abstractions;
using Umdev.Core;

namespace Umdev.VfioUser.Tests;

#pragma warning disable CA1416 // Linux only
public sealed class SocketDirectoryTests : IDisposable
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode Open = Private | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
    private readonly string _dir = Path.Combine("/tmp", "vud-" + Guid.NewGuid().ToString("N")[..10]);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    [Fact]
    public void An_existing_socket_directory_and_device_folder_are_made_0700_with_a_log_line()
    {
        Directory.CreateDirectory(_dir, Open);
        var core = new MdevCore();
        var parent = core.RegisterParent(new MdevParentSpec("vtest", "devices/virtual/vtest/vtest", "vtest", null,
            [new MdevTypeSpec("1", "test", "vfio-pci")]), new TestDriver());
        var uuid = Guid.NewGuid();
        string folder = VfioUserService.DeviceDirectoryFor(_dir, uuid);
        Directory.CreateDirectory(folder, Open); // left by an earlier run
        var log = new ListLogger();
        using (new VfioUserService(core, _dir, log))
        {
            Assert.Equal(Private, File.GetUnixFileMode(_dir));
            Assert.Contains($"vfio-user: tightened {_dir} from 0755 to 0700", log.Lines);
            core.Create(parent.Types[0], uuid);
            Assert.Equal(Private, File.GetUnixFileMode(folder));
            Assert.Contains($"vfio-user: tightened {folder} from 0755 to 0700", log.Lines);
            int lines = log.Lines.Count(l => l.Contains("tightened", StringComparison.Ordinal));
            core.Remove(core.FindDevice(uuid)!);
            core.Create(parent.Types[0], Guid.NewGuid()); // a new folder is made 0700: nothing to say
            Assert.Equal(lines, log.Lines.Count(l => l.Contains("tightened", StringComparison.Ordinal)));
        }
        core.UnregisterParent(parent);
    }

    [Fact]
    public void A_missing_socket_directory_is_created_0700()
    {
        using (new VfioUserService(new MdevCore(), _dir, NullLoggerFactory.Instance))
        {
            Assert.Equal(Private, File.GetUnixFileMode(_dir));
        }
    }
}
