using Microsoft.Extensions.Logging.Abstractions;
using Umdev.Core;
using Umdev.Devices.Mtty;

namespace Umdev.VfioUser.Tests;

/// <summary>The real mtty driver served over vfio-user.</summary>
public sealed class MttyServerFixture : IDisposable
{
    public MttyServerFixture(string type = "mtty-2", VfioUserServiceOptions? options = null)
    {
        Directory = Path.Combine("/tmp", "vum-" + Guid.NewGuid().ToString("N")[..10]);
        Core = new MdevCore();
        Parent = Mtty.Register(Core);
        Service = new VfioUserService(Core, Directory, NullLoggerFactory.Instance, options);
        Device = Core.Create(Parent.FindType(type)!, Guid.NewGuid());
    }

    public string Directory { get; }
    public MdevCore Core { get; }
    public MdevParent Parent { get; }
    public VfioUserService Service { get; }
    public MdevDevice Device { get; }
    public string SocketPath => VfioUserService.SocketPathFor(Directory, Device.Uuid);

    public void Dispose()
    {
        Service.Dispose();
        Mtty.Unregister(Core, Parent);
        try { System.IO.Directory.Delete(Directory, true); } catch (IOException) { }
    }
}
