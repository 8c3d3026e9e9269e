using Umdev.Interop;
using Umdev.Vfio.Migration;
using Umdev.VfioUser.Client;
using Umdev.VfioUser.Tests;

namespace Umdev.Cli.Tests;

/// <summary><c>umdev migrate</c> between two real <c>umdev serve</c> processes, through their mounts and sockets.</summary>
public class MigrateTests
{
    private const string Types = "class/mdev_bus/mtty/mdev_supported_types";

    /// <summary>Two daemons, each with its own mount and socket directory.</summary>
    private sealed class TwoDaemons : IDisposable
    {
        public TwoDaemons(int sourcePorts, int destinationPorts)
        {
            try
            {
                Source = Start(sourcePorts);
                Destination = Start(destinationPorts);
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public Daemon Source { get; } = null!;
        public Daemon Destination { get; } = null!;

        private static Daemon Start(int ports) => Daemon.Start(null, "--mtty-ports", ports.ToString());

        public void Dispose()
        {
            Source?.Dispose();
            Destination?.Dispose();
        }
    }

    private static Shell.Result Migrate(Guid uuid, Daemon from, Daemon to) =>
        Daemon.Run("migrate", uuid.ToString(), "--from", from.Dir, "--to", to.Dir);

    private static void Create(Daemon d, string type, Guid uuid) => AttributeFile.Write(Path.Combine(d.Dir, Types, type, "create"), uuid.ToString());

    private static void Remove(Daemon d, Guid uuid) => AttributeFile.Write(Path.Combine(DeviceMigration.DevicePath(d.Dir, uuid), "remove"), "1");

    private static string Available(Daemon d, string type) => File.ReadAllText(Path.Combine(d.Dir, Types, type, "available_instances")).Trim();

    private static bool Exists(Daemon d, Guid uuid) => Directory.Exists(DeviceMigration.DevicePath(d.Dir, uuid));

    /// <summary>
    /// Connects to a device's socket. A client that just left may still be being released by the server, which
    /// refuses a newcomer by closing it if that takes longer than its 1 s grace: retry until the slot is free
    /// (generous deadline).
    /// </summary>
    private static VfioUserClient Connect(Daemon d, Guid uuid)
    {
        string socket = DeviceMigration.SocketOf(d.Dir, uuid);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            try
            {
                return VfioUserClient.Connect(socket);
            }
            catch (ErrnoException e) when (e.Errno is Errno.ECONNRESET or Errno.EPIPE && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(50);
            }
        }
    }

    private static readonly UartState Programmed = new(0x9B, 0x05, 0xA5, 0x0060, 0x01, "live bytes");

    private static void ProgramUart(Daemon d, Guid uuid)
    {
        using var c = Connect(d, uuid);
        UartState.Program(c, 0x0060, 0x05, 0xA5, "live bytes");
    }

    [Fact]
    public void MovesALiveDeviceWithItsUartBetweenDaemons()
    {
        using var daemons = new TwoDaemons(4, 4);
        var (a, b) = (daemons.Source, daemons.Destination);
        var uuid = Guid.NewGuid();
        string poolBefore = Available(a, "mtty-2");
        Create(a, "mtty-2", uuid);
        Assert.NotEqual(poolBefore, Available(a, "mtty-2"));
        ProgramUart(a, uuid);

        var result = Migrate(uuid, a, b);
        result.AssertSuccess();
        Assert.Contains("96 stream bytes", result.Stdout);

        Assert.False(Exists(a, uuid));
        Assert.Equal(poolBefore, Available(a, "mtty-2"));
        Assert.True(Exists(b, uuid));
        Assert.EndsWith("mtty-2", new FileInfo(Path.Combine(DeviceMigration.DevicePath(b.Dir, uuid), "mdev_type")).LinkTarget);
        using var c = Connect(b, uuid);
        Assert.Equal(VfioMigrationState.Running, c.GetDeviceState());
        Assert.Equal(Programmed, UartState.Observe(c));
    }

    [Fact]
    public void FailuresLeaveTheSourceRunningAndTheDestinationWithoutTheDevice()
    {
        using var daemons = new TwoDaemons(4, 2);
        var (a, b) = (daemons.Source, daemons.Destination);
        var uuid = Guid.NewGuid();
        Create(a, "mtty-2", uuid);
        ProgramUart(a, uuid);

        // Destination pool full: ENOSPC at create.
        var filler = Guid.NewGuid();
        Create(b, "mtty-2", filler);
        var full = Migrate(uuid, a, b);
        Assert.Equal(1, full.ExitCode);
        Assert.Contains("create the device on the destination failed: ENOSPC", full.Stderr);
        Assert.Single(full.Stderr.Trim().Split('\n'));
        Assert.True(Exists(a, uuid));
        Assert.False(Exists(b, uuid));
        Remove(b, filler);

        // The destination already has the UUID: EEXIST, and its device is not touched.
        Create(b, "mtty-1", uuid);
        var exists = Migrate(uuid, a, b);
        Assert.Equal(1, exists.ExitCode);
        Assert.Contains("EEXIST", exists.Stderr);
        Assert.EndsWith("mtty-1", new FileInfo(Path.Combine(DeviceMigration.DevicePath(b.Dir, uuid), "mdev_type")).LinkTarget);
        Remove(b, uuid);

        // A client (a VMM) is connected to the source: refused, nothing created.
        using (var vmm = Connect(a, uuid))
        {
            var busy = Migrate(uuid, a, b);
            Assert.Equal(1, busy.ExitCode);
            Assert.Contains("connect to the source failed: EBUSY", busy.Stderr);
            Assert.Contains("VMM must drive the migration", busy.Stderr);
            Assert.False(Exists(b, uuid));
            Assert.Equal(VfioMigrationState.Running, vmm.GetDeviceState());
            Assert.Equal(Programmed, UartState.Observe(vmm));
        }
        Assert.True(Exists(a, uuid));
        Assert.Equal("2", Available(b, "mtty-1"));

        // The whole move given far too little time: whichever step the watchdog cuts (before or after the
        // source stopped), the step fails with ETIMEDOUT and everything is rolled back.
        ProgramUart(a, uuid); // Observe above drained the FIFO
        for (int i = 0; i < 3; i++)
        {
            var late = Daemon.Run("migrate", uuid.ToString(),
                "--from", a.Dir, "--to", b.Dir, "--timeout", "0.001");
            Assert.Equal(1, late.ExitCode);
            Assert.Contains("failed: ETIMEDOUT", late.Stderr);
            Assert.False(Exists(b, uuid));
            using var c = Connect(a, uuid);
            Assert.Equal(VfioMigrationState.Running, c.GetDeviceState());
        }
        using (var c = Connect(a, uuid)) Assert.Equal(Programmed, UartState.Observe(c));
    }

    [Fact]
    public void AFailureAtAnyStepRollsBack()
    {
        using var daemons = new TwoDaemons(4, 4);
        var (a, b) = (daemons.Source, daemons.Destination);
        var uuid = Guid.NewGuid();
        Create(a, "mtty-2", uuid);
        var steps = new List<string>();
        new DeviceMigration(a.Dir, b.Dir, TimeSpan.FromSeconds(120), TextWriter.Null) { StepStarting = steps.Add }.Move(uuid);
        Assert.Contains("STOP_COPY on the source", steps);
        Assert.Equal("remove the source device", steps[^1]);
        ProgramUart(b, uuid);

        // Moving back from b, failing at each step in turn: b keeps the device, running, a never has it.
        foreach (var failing in steps)
        {
            var rollbackLog = new StringWriter();
            var migration = new DeviceMigration(b.Dir, a.Dir, TimeSpan.FromSeconds(120), rollbackLog)
            {
                StepStarting = s => { if (s == failing) throw new ErrnoException(Errno.EIO, "injected"); },
            };
            var e = Assert.Throws<MigrationFailedException>(() => migration.Move(uuid));
            Assert.Equal((failing, Errno.EIO), (e.Step, e.Errno));
            Assert.True(Exists(b, uuid), failing);
            Assert.False(Exists(a, uuid), failing);
            Assert.Equal("", rollbackLog.ToString()); // every rollback succeeded
            using var c = Connect(b, uuid);
            Assert.Equal(VfioMigrationState.Running, c.GetDeviceState());
        }
        Assert.Equal("2", Available(a, "mtty-2"));
        using (var c = Connect(b, uuid)) Assert.Equal(Programmed, UartState.Observe(c));
    }

    [Fact]
    public void ARollbackThatFailsIsReportedOnTheCommandsWriter()
    {
        using var daemons = new TwoDaemons(4, 4);
        var (a, b) = (daemons.Source, daemons.Destination);
        var uuid = Guid.NewGuid();
        Create(a, "mtty-2", uuid);
        // The destination reached through a link that goes away mid-move: its device cannot be removed again.
        string to = Path.Combine(Path.GetTempPath(), "umdev-to-" + Guid.NewGuid().ToString("N"));
        File.CreateSymbolicLink(to, b.Dir);
        var log = new StringWriter();
        var migration = new DeviceMigration(a.Dir, to, TimeSpan.FromSeconds(120), log)
        {
            StepStarting = s =>
            {
                if (s != "RUNNING on the destination") return;
                File.Delete(to);
                throw new ErrnoException(Errno.EIO, "injected");
            },
        };
        Assert.Throws<MigrationFailedException>(() => migration.Move(uuid));
        Assert.StartsWith("umdev migrate: could not remove the destination device: ", log.ToString());
        Assert.Single(log.ToString().Trim().Split('\n'));
        using (var c = Connect(a, uuid)) Assert.Equal(VfioMigrationState.Running, c.GetDeviceState());
        Assert.True(Exists(b, uuid)); // what the report says was left behind
        Remove(b, uuid);
    }

    [Fact]
    public void BadArgumentsAndAMissingDeviceAreOneLineErrors()
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        Assert.Equal(2, MigrateCommand.Run("not-a-uuid", "/nonexistent", "/nonexistent", 30, stdout, stderr));
        // The kernel's UUID rules, as lspci and the create attribute apply them: exactly 36 characters.
        foreach (string padded in new[] { $" {Guid.NewGuid()}", $"{Guid.NewGuid()}\n", $"{{{Guid.NewGuid()}}}" })
        {
            stderr.GetStringBuilder().Clear();
            Assert.Equal(2, MigrateCommand.Run(padded, "/nonexistent", "/nonexistent", 30, stdout, stderr));
            Assert.Equal($"umdev migrate: '{padded}' is not a UUID\n", stderr.ToString());
        }
        Assert.Equal(2, MigrateCommand.Run(Guid.NewGuid().ToString(), "/nonexistent", "/nonexistent", 0, stdout, stderr));
        stderr.GetStringBuilder().Clear();
        Assert.Equal(1, MigrateCommand.Run(Guid.NewGuid().ToString(), "/nonexistent", "/nonexistent", 30, stdout, stderr));
        Assert.StartsWith("umdev migrate: find the source device failed: ENODEV", stderr.ToString());
        Assert.Single(stderr.ToString().Trim().Split('\n'));
        Assert.Empty(stdout.ToString());
    }
}
