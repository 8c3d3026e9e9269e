using Microsoft.Extensions.Logging;
using Umdev.Core;
using Umdev.Devices.Mtty;
using Umdev.Sysfs;
using Umdev.VfioUser;

namespace Umdev.Cli;

/// <summary>
/// What <c>umdev serve</c> runs, as one object: the mediated core, its sysfs tree mounted at a directory,
/// the vfio-user service (a socket per device) and the mtty parent. Built mount first, so a start-up
/// failure is the mount's one message and leaves nothing behind; torn down in reverse.
/// </summary>
public sealed class UmdevDaemon : IDisposable
{
    private UmdevDaemon(MdevCore core, SysfsMount mount, VfioUserService vfioUser, MdevParent mtty)
    {
        Core = core;
        Mount = mount;
        VfioUser = vfioUser;
        Mtty = mtty;
    }

    public MdevCore Core { get; }
    public SysfsMount Mount { get; }
    public VfioUserService VfioUser { get; }
    public MdevParent Mtty { get; }

    /// <param name="observer">Registered before anything else, so it sees the parent and every device (e.g. a log).</param>
    public static UmdevDaemon Start(string sysfsDir, string socketsDir, int mttyPorts, ILoggerFactory loggers,
        TimeSpan? removeTimeout = null, IMdevObserver? observer = null)
    {
        var core = new MdevCore();
        if (observer is not null) core.AddObserver(observer);
        SysfsMount? mount = null;
        VfioUserService? vfioUser = null;
        try
        {
            // The tree is computed, so the parent appears in it as it registers after the mount.
            mount = SysfsMount.Start(core, sysfsDir, loggers.CreateLogger(SysfsLogEvents.Category));
            vfioUser = new VfioUserService(core, socketsDir, loggers,
                new VfioUserServiceOptions { RemoveTimeout = removeTimeout ?? new VfioUserServiceOptions().RemoveTimeout });
            var mtty = Devices.Mtty.Mtty.Register(core, new MttyOptions(mttyPorts));
            return new UmdevDaemon(core, mount, vfioUser, mtty);
        }
        catch
        {
            vfioUser?.Dispose();
            mount?.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Mount.Dispose();
        Devices.Mtty.Mtty.Unregister(Core, Mtty);
        VfioUser.Dispose();
    }
}
