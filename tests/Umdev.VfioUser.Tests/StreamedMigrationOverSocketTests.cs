using Microsoft.Extensions.Logging.Abstractions;
using Umdev.Core;
using Umdev.Vfio;
using Umdev.Vfio.Migration;
using Umdev.Vfio.Tests;
using Umdev.VfioUser.Client;
using S = Umdev.Vfio.Migration.VfioMigrationState;

namespace Umdev.VfioUser.Tests;

/// <summary>A device with 64 MiB of state migrated through MIG_DATA_READ/WRITE without the stream being held whole.</summary>
public class StreamedMigrationOverSocketTests
{
    private const int Size = 64 << 20;
    private const int Record = 8 + BulkMemoryOps.PageSize;
    private const long Bound = 4 << 20; // a sixteenth of the stream; what is allocated is a few buffers (~0.5 MiB)

    /// <summary>An mdev driver binding its one device to the given ops.</summary>
    private sealed class BulkDriver(BulkMemoryOps ops) : MdevDriver
    {
        public override string Name => "bulk";
        public override void Probe(MdevDevice mdev) => mdev.DriverData = new VfioDevice(mdev.Name, ops);
        public override void Remove(MdevDevice mdev) => (mdev.DriverData as VfioDevice)?.Unregister();
        public override int GetAvailableInstances(MdevType type) => 1;
    }

    /// <summary>One <see cref="BulkMemoryOps"/> device served on a socket.</summary>
    private sealed class BulkServer : IDisposable
    {
        private readonly string _directory = Path.Combine("/tmp", "vub-" + Guid.NewGuid().ToString("N")[..10]);
        private readonly VfioUserService _service;

        public BulkServer()
        {
            var core = new MdevCore();
            var parent = core.RegisterParent(new MdevParentSpec("bulk", "devices/virtual/bulk/bulk", "bulk", null,
                [new MdevTypeSpec("1", null, VfioPci.DeviceApi)]), new BulkDriver(Ops));
            _service = new VfioUserService(core, _directory, NullLoggerFactory.Instance);
            SocketPath = VfioUserService.SocketPathFor(_directory, core.Create(parent.Types[0], Guid.NewGuid()).Uuid);
        }

        public BulkMemoryOps Ops { get; } = new(Size);
        public string SocketPath { get; }

        public void Dispose()
        {
            _service.Dispose();
            try { Directory.Delete(_directory, true); } catch (IOException) { }
        }
    }

    [Fact]
    public void A64MiBDeviceMovesThroughTheSocketsWithBoundedMemoryOnEverySide()
    {
        using var a = new BulkServer();
        using var b = new BulkServer();
        new Random(3).NextBytes(a.Ops.Memory);
        a.Ops.Register = 0xFEED;
        using var source = VfioUserClient.Connect(a.SocketPath);
        using var destination = VfioUserClient.Connect(b.SocketPath);
        var buffer = new byte[256 * 1024];
        destination.SetDeviceState(S.Resuming);
        source.SetDeviceState(S.PreCopy);

        long before = GC.GetAllocatedBytesForCurrentThread();
        ulong precopy = source.CopyMigrationStream(destination, buffer);
        a.Ops.Memory[12345] ^= 0xFF;                          // the guest runs on: one page changes
        source.SetDeviceState(S.StopCopy);
        ulong rest = source.CopyMigrationStream(destination, buffer);
        destination.SetDeviceState(S.Stop);
        destination.SetDeviceState(S.Running);
        long clientAllocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal((ulong)(Size / BulkMemoryOps.PageSize) * Record, precopy);
        Assert.Equal((ulong)Record + 16, rest);               // only the changed page, then the end record
        Assert.True(a.Ops.Memory.SequenceEqual(b.Ops.Memory));
        Assert.Equal(0xFEEDul, b.Ops.Register);
        string allocated = $"allocated: client {clientAllocated}, source server {a.Ops.SavingAllocated}, destination server {b.Ops.ResumingAllocated}";
        Assert.True(clientAllocated < Bound && a.Ops.SavingAllocated is < Bound && b.Ops.ResumingAllocated is < Bound, allocated);
    }
}
