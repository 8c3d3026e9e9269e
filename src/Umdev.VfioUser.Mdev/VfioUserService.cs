using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Umdev.Core;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.VfioUser.Display;
using Umdev.VfioUser.Server;

namespace Umdev.VfioUser;

/// <summary>Settings of <see cref="VfioUserService"/>.</summary>
public sealed record VfioUserServiceOptions
{
    /// <summary>Where <c>umdev serve</c> puts the sockets unless told otherwise.</summary>
    public const string DefaultSocketDirectory = "/run/umdev/vfio-user";

    /// <summary>How long a user <c>remove</c> waits for a connected client to leave before failing with EBUSY.</summary>
    public TimeSpan RemoveTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Settings of each device's server (message sizes, timeouts).</summary>
    public VfioUserServerOptions Server { get; init; } = new();
}

/// <summary>
/// Serves every VFIO device of an <see cref="MdevCore"/> over vfio-user: one listening socket (mode 0600) per
/// device, created when the device appears and removed with it, reachable as <c>&lt;dir&gt;/&lt;uuid&gt;.sock</c>
/// and shown in the device's sysfs directory as <c>vfio-user/socket</c>. The socket itself lives in a folder of
/// the device's own, <c>&lt;dir&gt;/&lt;uuid&gt;/</c> (see <see cref="DeviceDirectoryFor"/>), and
/// <c>&lt;uuid&gt;.sock</c> is a relative symbolic link to it. The constructor registers with the core and
/// serves the devices that already exist; dispose to stop.
/// </summary>
public sealed partial class VfioUserService : IMdevObserver, IDisposable
{
    /// <summary>The sysfs sub-directory of each served device that holds <see cref="SocketAttributeName"/>.</summary>
    public const string AttributeGroupName = "vfio-user";
    /// <summary>The attribute showing the device's socket path.</summary>
    public const string SocketAttributeName = "socket";
    /// <summary>The attribute showing the device's display socket path (devices with a display only).</summary>
    public const string DisplayAttributeName = "display";

    private readonly MdevCore _core;
    private readonly VfioUserServiceOptions _options;
    private readonly ILogger _logger;
    // Keyed by UUID for lookups, but every call checks the device instance: a removal of an earlier device of the
    // same UUID must never stop a later one's endpoint or delete its files.
    private readonly ConcurrentDictionary<Guid, Served> _endpoints = new();
    private readonly ConcurrentDictionary<MdevDevice, byte> _userRemovals = new();
    private readonly Lock _addLock = new();
    private bool _disposed;

    private sealed record Served(MdevDevice Mdev, VfioUserEndpoint Endpoint, VfioDisplayEndpoint? Display, MdevAttributeGroup Group);

    /// <summary>
    /// Serves the devices of <paramref name="core"/> on sockets in <paramref name="socketDirectory"/> (created mode
    /// 0700 if missing, made 0700 if it exists with another mode), logging to <paramref name="loggerFactory"/>.
    /// </summary>
    public VfioUserService(MdevCore core, string socketDirectory, ILoggerFactory loggerFactory, VfioUserServiceOptions? options = null)
    {
        _core = core;
        SocketDirectory = Path.GetFullPath(socketDirectory);
        _options = options ?? new VfioUserServiceOptions();
        _logger = loggerFactory.CreateLogger(VfioUserLogEvents.Category);
        MakePrivateDirectory(SocketDirectory);
        core.AddObserver(this);
        foreach (var mdev in core.Devices) OnDeviceAdded(mdev);
    }

    /// <summary>The absolute socket directory.</summary>
    public string SocketDirectory { get; }

    /// <summary>The name of the socket inside a device's folder (<see cref="DeviceDirectoryFor"/>).</summary>
    public const string DeviceSocketName = "vfio-user.sock";

    /// <summary>The socket path of a device: <c>&lt;dir&gt;/&lt;uuid&gt;.sock</c> (a link into its folder).</summary>
    public static string SocketPathFor(string socketDirectory, Guid uuid) =>
        Path.Combine(socketDirectory, MdevUuid.ToName(uuid) + ".sock");

    /// <summary>
    /// The folder of a device's sockets, <c>&lt;dir&gt;/&lt;uuid&gt;/</c>, holding <see cref="DeviceSocketName"/>.
    /// A container gets this folder bind-mounted rather than the socket file: a socket bound again (the daemon
    /// restarted) is a new inode that a file mount would hide, while a folder mount shows it. So the folder
    /// outlives a daemon shutdown and goes only when a user removes the device.
    /// </summary>
    public static string DeviceDirectoryFor(string socketDirectory, Guid uuid) =>
        Path.Combine(socketDirectory, MdevUuid.ToName(uuid));

    /// <summary>The name of a display device's display socket inside its folder.</summary>
    public const string DisplaySocketName = "display.sock";

    /// <summary>
    /// The display socket of a device whose ops have a display (<see cref="IVfioDisplay"/>):
    /// <c>&lt;dir&gt;/&lt;uuid&gt;/display.sock</c>, in the device's folder beside its vfio-user socket (so a
    /// container given the folder can take screenshots too). <c>umdev screenshot</c> reads the screen there while
    /// a VMM holds the vfio-user socket.
    /// </summary>
    public static string DisplaySocketPathFor(string socketDirectory, Guid uuid) =>
        Path.Combine(DeviceDirectoryFor(socketDirectory, uuid), DisplaySocketName);

    /// <summary>The endpoint serving a device, if any (tests and diagnostics).</summary>
    public VfioUserEndpoint? FindEndpoint(Guid uuid) => _endpoints.TryGetValue(uuid, out var e) ? e.Endpoint : null;

    /// <summary>Starts serving a new device whose driver attached a <see cref="VfioDevice"/>; other devices are ignored.</summary>
    public void OnDeviceAdded(MdevDevice mdev)
    {
        // The constructor's walk over existing devices can race the core's call for a new one: only one may
        // build the endpoint (a second would replace the first's socket file and delete it on dispose).
        lock (_addLock)
        {
            if (_disposed || mdev.DriverData is not VfioDevice device) return;
            if (_endpoints.TryGetValue(mdev.Uuid, out var earlier))
            {
                if (earlier.Mdev == mdev) return;
                // An earlier device of this UUID whose removal was never heard (the core tells removals before the
                // UUID is free, so only a missed one): its endpoint must not serve the new device.
                Forget(earlier, deleteFolder: false);
            }
            string path = SocketPathFor(SocketDirectory, mdev.Uuid);
            var endpoint = new VfioUserEndpoint(device, CreateDeviceDirectory(mdev.Uuid), _options.Server, _logger);
            LinkSocket(path, mdev.Uuid);
            List<MdevAttribute> attributes = [MdevAttribute.Text(SocketAttributeName, () => path + "\n")];
            VfioDisplayEndpoint? display = null;
            if (device.HasDisplay)
            {
                string displayPath = DisplaySocketPathFor(SocketDirectory, mdev.Uuid);
                try
                {
                    display = new VfioDisplayEndpoint(device, displayPath, _logger);
                    attributes.Add(MdevAttribute.Text(DisplayAttributeName, () => displayPath + "\n"));
                }
                catch (ErrnoException e)
                {
                    // The device still serves VMMs; only screenshots are unavailable.
                    LogNoDisplay(mdev.Name, displayPath, e.Message);
                }
            }
            var group = new MdevAttributeGroup(AttributeGroupName, attributes);
            _endpoints[mdev.Uuid] = new Served(mdev, endpoint, display, group);
            mdev.AddAttributeGroup(group);
            LogServing(mdev.Name, path);
        }
    }

    /// <summary>
    /// A user removal while a client is connected: the client's REQ eventfd is signalled (if armed) and the
    /// client gets <see cref="VfioUserServiceOptions.RemoveTimeout"/> to leave, else EBUSY and nothing changes.
    /// A parent going away cannot wait: the client is disconnected. If a later observer refuses the removal
    /// there is nothing to undo (see <see cref="OnDeviceRemoveCancelled"/>).
    /// </summary>
    public void OnDeviceRemoving(MdevDevice mdev, MdevRemoveReason reason)
    {
        if (!_endpoints.TryGetValue(mdev.Uuid, out var e) || e.Mdev != mdev) return;
        bool force = reason != MdevRemoveReason.UserRequest;
        if (!e.Endpoint.ReleaseClient(_options.RemoveTimeout, force))
            ThrowHelper.Throw(Errno.EBUSY, $"{mdev.Name} is in use by a vfio-user client");
        if (!force) _userRemovals.TryAdd(mdev, 0);
    }

    /// <summary>
    /// The device stays after all. The client asked to leave has gone and the endpoint never stopped
    /// listening, so a VMM can connect again; the device's state was kept as on any disconnect.
    /// </summary>
    public void OnDeviceRemoveCancelled(MdevDevice mdev) => _userRemovals.TryRemove(mdev, out _);

    /// <summary>Stops serving the device and deletes its socket and link; its folder too if a user removed it.</summary>
    public void OnDeviceRemoved(MdevDevice mdev)
    {
        bool userRemoval = _userRemovals.TryRemove(mdev, out _);
        if (_endpoints.TryGetValue(mdev.Uuid, out var e) && e.Mdev == mdev) Forget(e, userRemoval);
    }

    /// <summary>Stops serving one device instance, if it is still the one served under its UUID.</summary>
    private void Forget(Served e, bool deleteFolder)
    {
        if (!_endpoints.TryRemove(new KeyValuePair<Guid, Served>(e.Mdev.Uuid, e))) return;
        e.Mdev.RemoveAttributeGroup(e.Group);
        StopServing(e.Mdev.Uuid, e.Endpoint, e.Display);
        if (deleteFolder)
        {
            try { Directory.Delete(DeviceDirectoryFor(SocketDirectory, e.Mdev.Uuid)); }
            catch (IOException) { } // something else was put there: not ours to delete
        }
    }

    /// <summary>Stops serving every device and stops following the core.</summary>
    public void Dispose()
    {
        lock (_addLock)
        {
            if (_disposed) return;
            _disposed = true; // under the lock: an add in progress finishes first, and none starts after
        }
        _core.RemoveObserver(this);
        foreach (var e in _endpoints.Values.ToArray()) Forget(e, deleteFolder: false);
    }

    private string CreateDeviceDirectory(Guid uuid)
    {
        string dir = DeviceDirectoryFor(SocketDirectory, uuid);
        MakePrivateDirectory(dir);
        return Path.Combine(dir, DeviceSocketName);
    }

    private const UnixFileMode PrivateDirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>
    /// Creates <paramref name="dir"/> mode 0700, or makes an existing one 0700 (saying so): a folder left by an
    /// earlier run or made by hand keeps its mode otherwise, and 0755 would let anyone reach the sockets' names.
    /// </summary>
    private void MakePrivateDirectory(string dir)
    {
#pragma warning disable CA1416 // umdev runs on Linux only
        Directory.CreateDirectory(dir, PrivateDirectoryMode); // the mode applies only when it creates
        var mode = File.GetUnixFileMode(dir);
        if (mode == PrivateDirectoryMode) return;
        File.SetUnixFileMode(dir, PrivateDirectoryMode);
#pragma warning restore CA1416
        LogTightened(dir, Octal(mode), Octal(PrivateDirectoryMode));
    }

    private static string Octal(UnixFileMode mode) => Convert.ToString((int)mode, 8).PadLeft(4, '0');

    // Relative, so the link resolves wherever the socket directory is mounted whole.
    private static void LinkSocket(string path, Guid uuid)
    {
        File.Delete(path); // a link or socket left by a daemon that was killed
        File.CreateSymbolicLink(path, Path.Combine(MdevUuid.ToName(uuid), DeviceSocketName));
    }

    private void StopServing(Guid uuid, VfioUserEndpoint endpoint, VfioDisplayEndpoint? display)
    {
        display?.Dispose(); // deletes its socket, so a user removal can delete the folder
        endpoint.Dispose();
        File.Delete(SocketPathFor(SocketDirectory, uuid));
    }

    [LoggerMessage(EventId = VfioUserLogEvents.DisplayUnavailable, Level = LogLevel.Warning, Message = "vfio-user: {Device} served without its display socket {Path}: {Reason}")]
    private partial void LogNoDisplay(string device, string path, string reason);

    [LoggerMessage(EventId = VfioUserLogEvents.DirectoryTightened, Level = LogLevel.Warning, Message = "vfio-user: tightened {Directory} from {Old} to {New}")]
    private partial void LogTightened(string directory, string old, string @new);

    [LoggerMessage(EventId = VfioUserLogEvents.Serving, Level = LogLevel.Information, Message = "vfio-user: serving {Device} at {Path}")]
    private partial void LogServing(string device, string path);
}
