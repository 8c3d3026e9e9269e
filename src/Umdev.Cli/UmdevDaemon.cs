using Microsoft.Extensions.Logging;
using Umdev.Core;
using Umdev.Sysfs;
using Umdev.VfioUser;

namespace Umdev.Cli;

/// <summary>
/// What <c>umdev serve</c> runs, as one object: the mediated core, its sysfs tree mounted at a directory,
/// the vfio-user service (a socket per device) and the parents its plug-ins register. Built mount first, so
/// a start-up failure is the mount's one message and leaves nothing behind; torn down in reverse.
/// </summary>
public sealed class UmdevDaemon : IDisposable
{
    private readonly List<(IMdevParentPlugin Plugin, MdevParent Parent)> _parents;

    private UmdevDaemon(MdevCore core, SysfsMount mount, VfioUserService vfioUser, List<(IMdevParentPlugin, MdevParent)> parents)
    {
        Core = core;
        Mount = mount;
        VfioUser = vfioUser;
        _parents = parents;
    }

    public MdevCore Core { get; }
    public SysfsMount Mount { get; }
    public VfioUserService VfioUser { get; }

    /// <summary>The hosted parents, in the order they registered.</summary>
    public IReadOnlyList<MdevParent> Parents => _parents.Select(p => p.Parent).ToArray();

    /// <summary>The hosted parent registered by the plug-in of that name, if any.</summary>
    public MdevParent? FindParent(string plugin) => _parents.FirstOrDefault(p => p.Plugin.Name == plugin).Parent;

    /// <param name="parents">The parents to host, in order; none (null or empty) hosts the default plug-in with its defaults.</param>
    /// <param name="vfioUser">Settings of the vfio-user service (remove and VERSION timeouts); null: the defaults.</param>
    /// <param name="observer">Registered before anything else, so it sees the parents and every device (e.g. a log).</param>
    public static UmdevDaemon Start(string sysfsDir, string socketsDir, IReadOnlyList<ParentSpec>? parents, ILoggerFactory loggers,
        VfioUserServiceOptions? vfioUser = null, IMdevObserver? observer = null)
    {
        if (parents is null or { Count: 0 }) parents = [ParentSpec.Defaults(ParentPlugins.Default)];
        var core = new MdevCore();
        if (observer is not null) core.AddObserver(observer);
        SysfsMount? mount = null;
        VfioUserService? service = null;
        var registered = new List<(IMdevParentPlugin, MdevParent)>();
        try
        {
            // The tree is computed, so the parents appear in it as they register after the mount.
            mount = SysfsMount.Start(core, sysfsDir, loggers.CreateLogger(SysfsLogEvents.Category));
            service = new VfioUserService(core, socketsDir, loggers, vfioUser);
            foreach (var spec in parents) registered.Add((spec.Plugin, spec.Plugin.Register(core, spec.Options)));
            return new UmdevDaemon(core, mount, service, registered);
        }
        catch
        {
            Unregister(core, registered);
            service?.Dispose();
            mount?.Dispose();
            throw;
        }
    }

    private static void Unregister(MdevCore core, List<(IMdevParentPlugin Plugin, MdevParent Parent)> parents)
    {
        for (int i = parents.Count - 1; i >= 0; i--) parents[i].Plugin.Unregister(core, parents[i].Parent);
    }

    public void Dispose()
    {
        Mount.Dispose();
        Unregister(Core, _parents);
        VfioUser.Dispose();
    }
}
