using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Umdev.Core;
using Umdev.Interop;
using Umdev.Sysfs.Fuse;

namespace Umdev.Sysfs;

/// <summary>
/// The sysfs tree of an <see cref="MdevCore"/> mounted as a real filesystem through the kernel's FUSE,
/// spoken directly on /dev/fuse. Dispose unmounts (lazily) and stops serving.
/// </summary>
public sealed class SysfsMount : IDisposable
{
    public const string FileSystemType = "fuse.umdev";

    private readonly SysfsTree _tree;
    private readonly FuseDevice _device;
    private readonly FuseSession _session;
    private readonly SysfsFileSystem _fs;
    private readonly ILogger _logger;
    private readonly FileDescriptorHandle _lock;
    private int _disposed;

    private SysfsMount(string mountPoint, FileDescriptorHandle mountPointLock, SysfsTree tree, FuseDevice device, SysfsFileSystem fs,
        FuseSession session, ILogger logger)
    {
        _lock = mountPointLock;
        MountPoint = mountPoint;
        _tree = tree;
        _device = device;
        _fs = fs;
        _session = session;
        _logger = logger;
    }

    /// <summary>The absolute path of the mounted directory (the tree's "/sys").</summary>
    public string MountPoint { get; }

    /// <summary>Kernel node ids currently remembered (for memory measurements).</summary>
    public int KnownNodes => _fs.KnownNodes;

    /// <summary>
    /// Mounts the tree at <paramref name="mountPoint"/> and returns once the mount answers. Errors
    /// (<see cref="ErrnoException"/> with one clear message): ENOENT/ENOTDIR mount point missing, EBUSY
    /// something is already mounted there (e.g. another daemon, which keeps running untouched), ENODEV
    /// no FUSE (/dev/fuse missing), EACCES/EPERM no permission. A stale mount left by a killed daemon
    /// (ENOTCONN) is detached and replaced.
    /// </summary>
    public static SysfsMount Start(MdevCore core, string mountPoint, ILogger? logger = null)
    {
        logger ??= NullLogger.Instance;
        string path = MountTable.CanonicalPath(mountPoint);
        PrepareMountPoint(path, logger);
        FileDescriptorHandle mountPointLock;
        try
        {
            mountPointLock = MountTable.LockDirectory(path);
        }
        catch (ErrnoException e) when (e.Errno == Errno.EAGAIN)
        {
            throw new ErrnoException(Errno.EBUSY, $"mount point {path} is busy: another umdev daemon is starting on it", e);
        }
        // Checked again under the lock: a daemon that mounted meanwhile is seen now.
        if (MountTable.FileSystemAt(path) is not null)
        {
            mountPointLock.Dispose();
            ThrowHelper.Throw(Errno.EBUSY, $"mount point {path} is busy: another umdev daemon is serving it");
        }
        FuseDevice device;
        try
        {
            device = OpenFuse();
        }
        catch
        {
            mountPointLock.Dispose();
            throw;
        }
        var tree = new SysfsTree(core);
        FuseSession? session = null;
        bool mounted = false;
        try
        {
            var fs = new SysfsFileSystem(tree, logger);
            session = new FuseSession(device, fs, logger);
            Mount(device, path);
            mounted = true;
            session.Start();
            var answer = MountTable.Probe(path);
            if (answer != Errno.None) ThrowHelper.Throw(answer, $"{path}: mounted but does not answer: {ErrnoException.Describe(answer)}");
            logger.LogInformation(SysfsLogEvents.Mounted, "sysfs tree mounted at {MountPoint}", path);
            return new SysfsMount(path, mountPointLock, tree, device, fs, session, logger);
        }
        catch
        {
            if (mounted) TryDetach(path, logger);
            session?.Dispose();
            tree.Dispose();
            device.Dispose();
            mountPointLock.Dispose();
            throw;
        }
    }

    private static void PrepareMountPoint(string path, ILogger logger)
    {
        var state = MountTable.Probe(path);
        if (state == Errno.ENOTCONN)
        {
            // The daemon that served this mount died (kill -9): the mount stays until someone detaches it.
            logger.LogWarning(SysfsLogEvents.StaleMountDetached, "{MountPoint}: stale mount of a dead daemon (Transport endpoint is not connected); detaching it", path);
            MountTable.DetachUnmount(path);
            state = MountTable.Probe(path);
        }
        if (state == Errno.ENOENT) ThrowHelper.Throw(Errno.ENOENT, $"mount point {path} does not exist");
        if (state != Errno.None) ThrowHelper.Throw(state, $"mount point {path}: {ErrnoException.Describe(state)}");
        if (!Directory.Exists(path)) ThrowHelper.Throw(Errno.ENOTDIR, $"mount point {path} is not a directory");
        if (MountTable.FileSystemAt(path) is { } type)
        {
            string who = type == FileSystemType ? "another umdev daemon is serving it" : $"{type} is mounted there";
            ThrowHelper.Throw(Errno.EBUSY, $"mount point {path} is busy: {who}");
        }
    }

    private static FuseDevice OpenFuse()
    {
        try
        {
            return FuseDevice.Open();
        }
        catch (ErrnoException e) when (e.Errno is Errno.ENOENT or Errno.ENODEV or Errno.ENXIO)
        {
            throw new ErrnoException(Errno.ENODEV, $"FUSE is not available: {FuseDevice.Path} missing (load the fuse module)", e);
        }
        catch (ErrnoException e) when (e.Errno is Errno.EACCES or Errno.EPERM)
        {
            throw new ErrnoException(e.Errno, $"no permission to open {FuseDevice.Path} (run as root)", e);
        }
    }

    private static void Mount(FuseDevice device, string path)
    {
        // allow_other: mdevctl and shells of any user see it, as /sys; default_permissions: the kernel checks modes.
        string options = $"fd={device.Fd},rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions";
        try
        {
            MountTable.Mount("umdev", path, FileSystemType, options);
        }
        catch (ErrnoException e) when (e.Errno == Errno.EPERM)
        {
            throw new ErrnoException(Errno.EPERM, $"no permission to mount {path} (needs CAP_SYS_ADMIN)", e);
        }
    }

    private static void TryDetach(string path, ILogger logger)
    {
        try { MountTable.DetachUnmount(path); }
        catch (ErrnoException e) { logger.LogWarning(SysfsLogEvents.UnmountFailed, "unmount {MountPoint}: {Error}", path, e.Message); }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        TryDetach(MountPoint, _logger);
        _session.Dispose();
        _device.Dispose();
        _tree.Dispose();
        _lock.Dispose();
        _logger.LogInformation(SysfsLogEvents.Unmounted, "sysfs tree unmounted from {MountPoint}", MountPoint);
    }
}
