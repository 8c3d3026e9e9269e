using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.VfioUser;
using Umdev.VfioUser.Client;
using Umdev.VfioUser.Display;
using Umdev.Vfio;

namespace Umdev.Hostile.Tests;

[CollectionDefinition(Name)]
public sealed class HostileCollection : ICollectionFixture<HostileDaemon>
{
    /// <summary>Every case attacks the one daemon in turn: none runs beside another.</summary>
    public const string Name = "hostile daemon";
}

/// <summary>
/// One real <c>umdev serve</c> with every parent (mtty, mbochs, virtio) shared by all cases, and one untouched
/// device of every kind that no attack goes near. <see cref="AssertHealthy"/> proves after each case that the
/// attack reached no further than its own target: the untouched devices still serve, the daemon lives, and its
/// descriptors and memory came back.
/// </summary>
public sealed class HostileDaemon : IDisposable
{
    /// <summary>The VERSION deadline the daemon is given (<c>--version-timeout</c>): short, so the cases that wait it out stay quick.</summary>
    public const int VersionTimeoutSeconds = 2;

    /// <summary>
    /// How long the daemon may take to close what an attack left open (sessions end on their own threads, and
    /// a half-open client is closed only at its VERSION deadline).
    /// </summary>
    public static readonly TimeSpan FdSettle = TimeSpan.FromSeconds(VersionTimeoutSeconds + 4);

    /// <summary>
    /// RSS growth allowed over the baseline. Generous on purpose: floods make the GC heap grow (1 MiB message
    /// buffers, thread stacks of sessions) and the runtime keeps what it grew; a leak per message or per
    /// connection over the thousands of each the cases send would exceed it.
    /// </summary>
    public const long RssSlackBytes = 64L << 20;

    public const string DiskImageName = "untouched.img";
    public const long DiskBytes = 1 << 20;
    public const uint ConfigRegion = 7, Bar0 = 0, Bar2 = 2, DispiBase = 0x500;

    private readonly byte[] _diskContent;

    public HostileDaemon()
    {
        DiskDir = Directory.CreateTempSubdirectory("umdev-hostile-disks-").FullName;
        Shell.Run("/bin/chmod", "755", DiskDir).AssertSuccess();
        _diskContent = new byte[DiskBytes];
        new Random(17).NextBytes(_diskContent);
        DiskImage = Path.Combine(DiskDir, DiskImageName);
        File.WriteAllBytes(DiskImage, _diskContent);
        Start();
    }

    /// <summary>
    /// Starts the daemon and its untouched devices, and takes the baseline. A case calls <see cref="Revived"/>
    /// first, so a daemon one case killed fails that case alone, not every case after it.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.MemberNotNull(nameof(Daemon))]
    private void Start()
    {
        string dir = Directory.CreateTempSubdirectory("umdev-hostile-").FullName;
        string sockets = Directory.CreateTempSubdirectory("umdev-hostile-sock-").FullName;
        Daemon = StartWithWhatItKnows(dir, sockets);
        try
        {
            Mtty = Create("mtty", "mtty-2");
            Mbochs = Create("mbochs", "mbochs-small");
            Disk = Create("virtio", "virtio-blk");
            AttributeFile.Write(Path.Combine(DevicePath(Disk), "backing"), DiskImage + "\n");

            // Warm up every path the checks take (the runtime loads and allocates lazily), then take the baseline.
            AssertHealthy(baseline: false);
            AssertHealthy(baseline: false);
            BaselineRss = DaemonRss();
        }
        catch
        {
            Daemon.Dispose(); // xunit disposes no fixture whose constructor threw
            throw;
        }
    }

    /// <summary>A new daemon if an earlier case killed this one (that case has failed already).</summary>
    public HostileDaemon Revived()
    {
        if (Daemon.HasExited)
        {
            Daemon.Dispose();
            Start();
        }
        CaseFds = DaemonFds().Count;
        return this;
    }

    /// <summary>
    /// The daemon's descriptors when the running case began: what it must come back to. Per case, so a leak
    /// fails the case that made it and not every case after it.
    /// </summary>
    public int CaseFds { get; private set; }

    /// <summary>
    /// Kills a daemon that hangs on its own mount (a FUSE request it must answer itself): SIGKILL alone leaves a
    /// thread waiting for that answer forever, so the mount's FUSE connection is aborted first.
    /// </summary>
    public void KillHard()
    {
        string? line = File.ReadLines("/proc/self/mountinfo").FirstOrDefault(l => l.Split(' ')[4] == Dir);
        if (line is not null)
        {
            string minor = line.Split(' ')[2].Split(':')[1];
            if (!Directory.Exists("/sys/fs/fuse/connections/" + minor))
                Shell.Run("/bin/mount", "-t", "fusectl", "fusectl", "/sys/fs/fuse/connections");
            try { File.WriteAllText($"/sys/fs/fuse/connections/{minor}/abort", "1"); }
            catch (IOException) { }
        }
        Daemon.Kill();
    }

    public Daemon Daemon { get; private set; }
    public string DiskDir { get; }
    public string DiskImage { get; }
    public Guid Mtty { get; private set; }
    public Guid Mbochs { get; private set; }
    public Guid Disk { get; private set; }
    public long BaselineRss { get; private set; }

    /// <summary>Whether the daemon knows the virtio parent's <c>disk-dirs</c> option (else backing is not confined).</summary>
    public bool HasDiskDirs { get; private set; }

    /// <summary>Whether the daemon knows <c>--version-timeout</c>.</summary>
    public bool HasVersionTimeout { get; private set; }

    public string Dir => Daemon.Dir;
    public string SocketDir => Daemon.SocketDir;

    /// <summary>
    /// Starts with every option the cases need; an option this build does not know yet (another branch brings
    /// it) is left out and noted, so the cases that need it fail on their own assertions. The help says which.
    /// </summary>
    private Daemon StartWithWhatItKnows(string dir, string sockets)
    {
        Shell.Run("/bin/chmod", "755", sockets).AssertSuccess(); // as an administrator's mkdir leaves it: the daemon must tighten it
        string help = Shell.Run("dotnet", Daemon.UmdevDll, "serve", "--help").Stdout;
        HasDiskDirs = help.Contains("disk-dirs", StringComparison.Ordinal);
        HasVersionTimeout = help.Contains("--version-timeout", StringComparison.Ordinal);
        // The mount itself is a disk directory too, so "a file on the daemon's own mount" is refused for being
        // on the mount (EINVAL) rather than for being outside the directories.
        string virtio = HasDiskDirs ? $"virtio:disks=4,disk-dirs={DiskDir}:{dir}" : "virtio:disks=4";
        string[] args = ["--parent", "mtty", "--parent", "mbochs", "--parent", virtio,
            .. HasVersionTimeout ? new[] { "--version-timeout", VersionTimeoutSeconds.ToString() } : []];
        return Daemon.StartOn(dir, sockets, args);
    }

    /// <summary>The end of a dead daemon's log (its stderr is read to the end only once it exits).</summary>
    public string LogTail()
    {
        if (!Daemon.HasExited) return "(still running)";
        string log = Daemon.Stderr();
        return log.Length > 4000 ? log[^4000..] : log;
    }

    public string CreatePath(string parent, string type) => Path.Combine(Dir, "class/mdev_bus", parent, "mdev_supported_types", type, "create");

    public string DevicePath(Guid uuid) => Path.Combine(Dir, "bus/mdev/devices", uuid.ToString());

    public string SocketPath(Guid uuid) => VfioUserService.SocketPathFor(SocketDir, uuid);

    public string DisplayPath(Guid uuid) => VfioUserService.DisplaySocketPathFor(SocketDir, uuid);

    /// <summary>Creates a device through the tree and waits for its socket.</summary>
    public Guid Create(string parent, string type, Guid? given = null)
    {
        var uuid = given ?? Guid.NewGuid();
        AttributeFile.Write(CreatePath(parent, type), uuid + "\n");
        WaitFor(() => File.Exists(SocketPath(uuid)), $"socket of {uuid}");
        return uuid;
    }

    /// <summary>Removes a device through the tree (if it is there) and waits for its socket to go.</summary>
    public void Remove(Guid uuid)
    {
        if (Directory.Exists(DevicePath(uuid))) AttributeFile.Write(Path.Combine(DevicePath(uuid), "remove"), "1\n");
        WaitFor(() => !File.Exists(SocketPath(uuid)), $"socket of {uuid} gone");
    }

    private readonly List<Target> _targets = [];

    /// <summary>A device created for one case to attack, removed when the case ends (at the latest by <see cref="AssertHealthy()"/>).</summary>
    public Target Attackable(string parent, string type, Guid? uuid = null)
    {
        var target = new Target(this, Create(parent, type, uuid));
        _targets.Add(target);
        return target;
    }

    public sealed class Target(HostileDaemon daemon, Guid uuid) : IDisposable
    {
        private bool _removed;
        public Guid Uuid => uuid;
        public string Socket => daemon.SocketPath(uuid);
        public string Display => daemon.DisplayPath(uuid);
        public string Path => daemon.DevicePath(uuid);

        public void Dispose()
        {
            if (_removed || daemon.Daemon.HasExited) return;
            _removed = true;
            daemon.Remove(uuid);
        }
    }

    public static void WaitFor(Func<bool> condition, string what, double seconds = 10)
    {
        if (!SpinWait.SpinUntil(condition, TimeSpan.FromSeconds(seconds))) throw new TimeoutException($"timed out waiting for: {what}");
    }

    /// <summary>
    /// Every untouched device still serves, through its sockets; the daemon lives; its descriptors come back to
    /// the baseline and its RSS stays within <see cref="RssSlackBytes"/> of it.
    /// </summary>
    public void AssertHealthy() => AssertHealthy(baseline: true);

    private void AssertHealthy(bool baseline)
    {
        Assert.False(Daemon.HasExited, "the daemon died: " + LogTail());
        foreach (var target in _targets) target.Dispose();
        _targets.Clear();
        AssertMttyServes();
        AssertMbochsServes();
        AssertDiskServes();
        Assert.False(Daemon.HasExited, "the daemon died: " + LogTail());
        if (!baseline) return;
        List<string> open = [];
        bool settled = SpinWait.SpinUntil(() => (open = DaemonFds()).Count <= CaseFds, FdSettle);
        Assert.True(settled, $"daemon descriptors: {open.Count} open, {CaseFds} when the case began: " +
            string.Join(", ", open.GroupBy(t => t).Select(g => $"{g.Key} x{g.Count()}")));
        long rss = DaemonRss();
        Assert.True(rss <= BaselineRss + RssSlackBytes, $"daemon RSS {rss >> 20} MiB, baseline {BaselineRss >> 20} MiB");
    }

    private void AssertMttyServes()
    {
        using var vmm = VfioUserClient.Connect(SocketPath(Mtty));
        var id = new byte[4];
        Assert.Equal(4, vmm.ReadRegion(ConfigRegion, 0, id));
        Assert.Equal(0x3253_4348u, BinaryPrimitives.ReadUInt32LittleEndian(id)); // WCH CH352
        byte probe = (byte)Random.Shared.Next(1, 255);
        vmm.WriteRegion(Bar0, 7, [probe]); // the UART's scratch register keeps what is written
        var back = new byte[1];
        vmm.ReadRegion(Bar0, 7, back);
        Assert.Equal(probe, back[0]);
    }

    private void AssertMbochsServes()
    {
        using var vmm = VfioUserClient.Connect(SocketPath(Mbochs));
        Assert.Equal(0xB0C5, Dispi(vmm, 0)); // DISPI ID
        Dispi(vmm, 3, 32);  // bpp
        Dispi(vmm, 1, 64);  // xres
        Dispi(vmm, 2, 64);  // yres (64: the smallest mode mbochs shows)
        Dispi(vmm, 6, 64);  // virtual width
        Dispi(vmm, 4, 0x41); // enabled, linear framebuffer
        using var frame = VfioDisplayClient.Capture(DisplayPath(Mbochs));
        Assert.Equal((64u, 64u), (frame.Plane.Width, frame.Plane.Height));
    }

    public static ushort Dispi(VfioUserClient vmm, int index, ushort? value = null)
    {
        var b = new byte[2];
        if (value is { } v)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(b, v);
            vmm.WriteRegion(Bar2, DispiBase + 2 * (uint)index, b);
            return v;
        }
        vmm.ReadRegion(Bar2, DispiBase + 2 * (uint)index, b);
        return BinaryPrimitives.ReadUInt16LittleEndian(b);
    }

    private void AssertDiskServes()
    {
        using var ram = new GuestMemory();
        using var driver = new VirtioTestDriver(VfioUserClient.Connect(SocketPath(Disk)), ram);
        driver.Start();
        Assert.Equal((ulong)DiskBytes / 512, driver.Read64(Umdev.Virtio.VirtioPciLayout.DeviceOffset)); // capacity in sectors
        int sector = Random.Shared.Next(0, (int)(DiskBytes / 512));
        var data = new byte[512];
        var (status, _) = driver.Request(0, (ulong)sector, data, writeToDevice: false); // VIRTIO_BLK_T_IN
        Assert.Equal(0, status);
        Assert.Equal(_diskContent.AsSpan(sector * 512, 512).ToArray(), data);
    }

    /// <summary>
    /// The daemon's open descriptors, by target; what the runtime maps lazily (assemblies, native libraries,
    /// its double-mapping memfd) is not counted.
    /// </summary>
    public List<string> DaemonFds()
    {
        var targets = new List<string>();
        foreach (string p in Directory.GetFiles($"/proc/{Daemon.Pid}/fd"))
        {
            string target;
            try { target = new FileInfo(p).LinkTarget ?? ""; }
            catch (IOException) { continue; }
            if (target.EndsWith(".dll", StringComparison.Ordinal) || target.EndsWith(".so", StringComparison.Ordinal) ||
                target.Contains("doublemapper", StringComparison.Ordinal)) continue;
            targets.Add(target.StartsWith("socket:", StringComparison.Ordinal) ? "socket" :
                target.StartsWith("pipe:", StringComparison.Ordinal) ? "pipe" : target);
        }
        return targets;
    }

    public long DaemonRss()
    {
        string line = File.ReadLines($"/proc/{Daemon.Pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }

    public void Dispose()
    {
        foreach (var uuid in new[] { Mtty, Mbochs, Disk })
            try { Remove(uuid); } catch (Exception e) when (e is IOException or ErrnoException or TimeoutException) { }
        Daemon.Dispose();
        Directory.Delete(DiskDir, true);
    }
}
