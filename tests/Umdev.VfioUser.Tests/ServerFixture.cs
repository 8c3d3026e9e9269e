using Microsoft.Extensions.Logging.Abstractions;
using Umdev.Core;
using Umdev.Interop;

namespace Umdev.VfioUser.Tests;

/// <summary>A core with a test parent, the vfio-user service on a temporary directory, and devices.</summary>
public sealed class ServerFixture : IDisposable
{
    public ServerFixture(int devices = 1, VfioUserServiceOptions? options = null)
    {
        Directory = Path.Combine("/tmp", "vu-" + Guid.NewGuid().ToString("N")[..10]);
        Core = new MdevCore();
        Parent = Core.RegisterParent(new MdevParentSpec("vtest", "devices/virtual/vtest/vtest", "vtest", null,
            [new MdevTypeSpec("1", "test", "vfio-pci")]), Driver);
        Service = new VfioUserService(Core, Directory, NullLoggerFactory.Instance, options);
        for (int i = 0; i < devices; i++) Devices.Add(Core.Create(Parent.Types[0], Guid.NewGuid()));
    }

    public string Directory { get; }
    public MdevCore Core { get; }
    public TestDriver Driver { get; } = new();
    public MdevParent Parent { get; }
    public VfioUserService Service { get; }
    public List<MdevDevice> Devices { get; } = [];

    public MdevDevice Device => Devices[0];
    public TestDeviceOps Ops(int i = 0) => Driver.Ops[Devices[i].Uuid];
    public string SocketPath(int i = 0) => VfioUserService.SocketPathFor(Directory, Devices[i].Uuid);

    public RawClient Raw(int i = 0) => new(UnixSocket.Connect(SocketPath(i)));

    /// <summary>A raw client that has completed VERSION.</summary>
    public RawClient Negotiated(int i = 0)
    {
        var c = Raw(i);
        c.Negotiate();
        return c;
    }

    /// <summary>Waits (generously) until the device has no client, i.e. the server finished cleaning up.</summary>
    public void WaitNoClient(int i = 0)
    {
        var endpoint = Service.FindEndpoint(Devices[i].Uuid)!;
        Assert.True(SpinWait.SpinUntil(() => !endpoint.HasClient, TimeSpan.FromSeconds(30)), "client session did not end");
    }

    public void Dispose()
    {
        Service.Dispose();
        try { Core.UnregisterParent(Parent); } catch (ErrnoException) { }
        try { System.IO.Directory.Delete(Directory, true); } catch (IOException) { }
    }
}
