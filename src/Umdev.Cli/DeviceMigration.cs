using System.Diagnostics;
using Umdev.Core;
using Umdev.Interop;
using Umdev.Vfio.Migration;
using Umdev.VfioUser.Client;
using S = Umdev.Vfio.Migration.VfioMigrationState;

namespace Umdev.Cli;

/// <summary>What one device move did: the stream it carried and the downtime it cost.</summary>
public sealed record MigrationReport(Guid Uuid, string Parent, string Type, ulong PrecopyBytes, ulong StopCopyBytes, TimeSpan Downtime)
{
    public ulong StreamBytes => PrecopyBytes + StopCopyBytes;
}

/// <summary>
/// Moves a live mediated device from one <c>umdev serve</c> to another, through their mounted sysfs trees
/// (device type, parent, create/remove, the <c>vfio-user/socket</c> attribute) and their vfio-user sockets.
/// The tool is the device's only vfio-user client while it migrates: a source with a VMM connected refuses
/// the connection, and then the VMM must drive migration over its own connection.
/// <para>
/// Order: source PRE_COPY (if offered) while the destination device is created, connected and put in
/// RESUMING, so the precopy bytes cross before the device stops; then source STOP_COPY (downtime starts),
/// the rest of the stream into the destination, destination STOP (the stream is validated) and RUNNING
/// (downtime ends); both connections close; the source device is removed. Any failure returns the source
/// to RUNNING, removes the destination device if this run created it, and throws
/// <see cref="MigrationFailedException"/> naming the step.
/// </para>
/// </summary>
public sealed class DeviceMigration
{
    private readonly string _fromSysfs;
    private readonly string _toSysfs;
    private readonly TimeSpan _timeout;
    private readonly TextWriter _log;

    /// <summary>The most stream bytes held at once while moving a device.</summary>
    public const int CopyChunk = 64 * 1024;

    /// <param name="log">Where a rollback that itself fails is reported (the command's stderr).</param>
    public DeviceMigration(string fromSysfs, string toSysfs, TimeSpan timeout, TextWriter log)
    {
        _fromSysfs = fromSysfs;
        _toSysfs = toSysfs;
        _timeout = timeout;
        _log = log;
    }

    /// <summary>Called as each step starts, with its name (the one a failure reports); tests inject failures here.</summary>
    public Action<string>? StepStarting { get; init; }

    public static string DevicePath(string sysfs, Guid uuid) => Path.Combine(sysfs, "bus", "mdev", "devices", MdevUuid.ToName(uuid));

    public static string SocketOf(string sysfs, Guid uuid) =>
        File.ReadAllText(Path.Combine(DevicePath(sysfs, uuid), "vfio-user", "socket")).Trim();

    public MigrationReport Move(Guid uuid)
    {
        var run = new Run(this, uuid);
        using var watchdog = new Timer(_ => run.Expire(), null, _timeout, Timeout.InfiniteTimeSpan);
        try
        {
            return run.Execute();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Whatever failed, the source must end up running: roll back on any exception.
            var failure = run.Failure(e);
            run.RollBack();
            throw failure;
        }
        finally
        {
            run.Disconnect();
        }
    }

    /// <summary>The state of one move, so a failure knows what to undo.</summary>
    private sealed class Run(DeviceMigration m, Guid uuid)
    {
        private readonly Lock _lock = new();
        private string _step = "";
        private VfioUserClient? _source;
        private VfioUserClient? _destination;
        private bool _created;
        private bool _sourceTouched;
        private volatile bool _expired;

        private void Step(string step)
        {
            _step = step;
            m.StepStarting?.Invoke(step);
        }

        public MigrationReport Execute()
        {
            Step("find the source device");
            string device = Path.GetFullPath(DevicePath(m._fromSysfs, uuid));
            if (!Directory.Exists(device)) ThrowHelper.Throw(Errno.ENODEV, $"no device {uuid} under {m._fromSysfs}");
            string real = new DirectoryInfo(device).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? device;
            string parent = Path.GetFileName(Path.GetDirectoryName(real))!;
            string type = Path.GetFileName(new FileInfo(Path.Combine(device, "mdev_type")).LinkTarget
                ?? ThrowHelper.Throw<string>(Errno.EINVAL, "mdev_type is not a link"));
            string sourceSocket = SocketOf(m._fromSysfs, uuid);

            Step("connect to the source");
            Attach(ref _source, ConnectSource(sourceSocket));

            Step("check the source's migration support");
            var flags = _source!.GetMigrationFlags();
            if ((flags & VfioMigrationFlags.StopCopy) == 0) ThrowHelper.Throw(Errno.ENOTSUP, $"migration flags {flags} lack STOP_COPY");
            var state = _source.GetDeviceState();
            if (state != S.Running) ThrowHelper.Throw(Errno.EBUSY, $"source device is {state}, not RUNNING");

            Step("create the device on the destination");
            string create = Path.Combine(m._toSysfs, "class", "mdev_bus", parent, "mdev_supported_types", type, "create");
            AttributeFile.Write(create, uuid.ToString("D"));
            _created = true;

            Step("connect to the destination");
            Attach(ref _destination, VfioUserClient.Connect(SocketOf(m._toSysfs, uuid)));

            Step("RESUMING on the destination");
            _destination!.SetDeviceState(S.Resuming);

            var buffer = new byte[CopyChunk];
            ulong precopy = 0;
            if ((flags & VfioMigrationFlags.PreCopy) != 0)
            {
                Step("PRE_COPY on the source");
                _sourceTouched = true;
                _source.SetDeviceState(S.PreCopy);
                precopy = Copy(buffer, "read the precopy data from the source", "write the precopy data to the destination");
            }

            Step("STOP_COPY on the source");
            _sourceTouched = true;
            var downtime = Stopwatch.StartNew();
            _source.SetDeviceState(S.StopCopy);
            ulong stream = Copy(buffer, "read the stream from the source", "write the stream to the destination");
            Step("STOP on the destination (load the stream)");
            _destination.SetDeviceState(S.Stop);
            Step("RUNNING on the destination");
            _destination.SetDeviceState(S.Running);
            downtime.Stop();

            Step("disconnect");
            Disconnect();
            Step("remove the source device");
            AttributeFile.Write(Path.Combine(device, "remove"), "1");
            _sourceTouched = false;
            _created = false;
            return new MigrationReport(uuid, parent, type, precopy, stream, downtime.Elapsed);
        }

        /// <summary>
        /// Moves the source's data as it comes, one buffer at a time, until a short read (no more now): the
        /// stream is never held whole. Each step is announced once; a failure names the one in progress.
        /// </summary>
        private ulong Copy(byte[] buffer, string readStep, string writeStep)
        {
            ulong total = 0;
            bool announced = false;
            int n;
            Step(readStep);
            do
            {
                _step = readStep;
                n = _source!.ReadMigrationData(buffer);
                if (announced) _step = writeStep;
                else Step(writeStep);
                announced = true;
                _destination!.WriteMigrationStream(buffer.AsSpan(0, n));
                total += (ulong)n;
            }
            while (n == buffer.Length);
            return total;
        }

        private static VfioUserClient ConnectSource(string socket)
        {
            try
            {
                return VfioUserClient.Connect(socket);
            }
            catch (ErrnoException e) when (e.Errno is Errno.ECONNRESET or Errno.EPIPE)
            {
                // The server accepts a second client and closes it after its 1 s grace: one client per device.
                throw new ErrnoException(Errno.EBUSY,
                    "the device already has a vfio-user client (a VMM must drive the migration over its own connection)");
            }
        }

        private void Attach(ref VfioUserClient? slot, VfioUserClient client)
        {
            lock (_lock)
            {
                slot = client;
                if (_expired) client.Abort();
            }
        }

        /// <summary>The watchdog: cuts both connections so the blocked call fails and the move rolls back.</summary>
        public void Expire()
        {
            lock (_lock)
            {
                _expired = true;
                _source?.Abort();
                _destination?.Abort();
            }
        }

        public MigrationFailedException Failure(Exception e)
        {
            if (_expired) return new MigrationFailedException(_step, Errno.ETIMEDOUT, $"no answer within {m._timeout.TotalSeconds:0.###} s");
            return e switch
            {
                ErrnoException x => new MigrationFailedException(_step, x.Errno, x.Message),
                UnauthorizedAccessException x => new MigrationFailedException(_step, Errno.EACCES, x.Message),
                IOException x when x is FileNotFoundException or DirectoryNotFoundException => new MigrationFailedException(_step, Errno.ENOENT, x.Message),
                IOException x => new MigrationFailedException(_step, x.HResult is > 0 and < 4096 ? (Errno)x.HResult : Errno.EIO, x.Message),
                _ => new MigrationFailedException(_step, Errno.EIO, e.Message),
            };
        }

        /// <summary>Source back to RUNNING (over the open connection, or a new one if it was cut), destination device removed.</summary>
        public void RollBack()
        {
            VfioUserClient? destination, source;
            lock (_lock)
            {
                destination = _destination;
                _destination = null;
            }
            destination?.Dispose();
            if (_sourceTouched)
            {
                try
                {
                    lock (_lock) source = _source;
                    if (source is null || _expired)
                    {
                        source?.Dispose();
                        source = Reconnect(SocketOf(m._fromSysfs, uuid));
                        lock (_lock) _source = source;
                    }
                    source.SetDeviceState(S.Running);
                }
                catch (Exception e) when (e is ErrnoException or IOException)
                {
                    m._log.WriteLine($"umdev migrate: could not return the source to RUNNING: {e.Message}");
                }
            }
            if (_created)
            {
                try
                {
                    AttributeFile.Write(Path.Combine(DevicePath(m._toSysfs, uuid), "remove"), "1");
                }
                catch (Exception e) when (e is ErrnoException or IOException)
                {
                    m._log.WriteLine($"umdev migrate: could not remove the destination device: {e.Message}");
                }
            }
        }

        /// <summary>
        /// Connects again after the watchdog cut the connection: a server that has not seen the old client go
        /// within its 1 s grace refuses the new one by closing it, so retry for a while.
        /// </summary>
        private static VfioUserClient Reconnect(string socket)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (true)
            {
                try
                {
                    return VfioUserClient.Connect(socket);
                }
                catch (ErrnoException e) when (e.Errno is Errno.ECONNRESET or Errno.EPIPE && DateTime.UtcNow < deadline)
                {
                    Thread.Sleep(20);
                }
            }
        }

        public void Disconnect()
        {
            VfioUserClient? source, destination;
            lock (_lock)
            {
                source = _source;
                destination = _destination;
                _source = null;
                _destination = null;
            }
            destination?.Dispose();
            source?.Dispose();
        }
    }
}
