using Microsoft.Extensions.Logging.Abstractions;
using Umdev.Core;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.VfioUser.Client;

namespace Umdev.VfioUser.Tests;

/// <summary>
/// A driver written from the guide's recipe (Remove: unregister, clear DriverData) whose own thread keeps
/// writing into its memory region while the device is removed through the core and the vfio-user service:
/// the writes must fail with ENODEV, never fault the process.
/// </summary>
public sealed class TeardownTests
{
    /// <summary>One 64 KiB memory BAR and a ticker thread that fills it, as fast as it can, until it gets an error.</summary>
    private sealed class TickerDevice : IVfioDeviceOps
    {
        public const int Size = 64 * 1024;
        private readonly Thread _ticker;

        public TickerDevice(string name = "ticker-pool")
        {
            Pool = new VfioMemoryRegion(VfioPci.Bar0RegionIndex, Size, name: name);
            Layout = new VfioDeviceLayout { Regions = [Pool], Interrupts = new VfioInterrupts(VfioInterruptSpec.None) };
            _ticker = new Thread(Tick) { IsBackground = true, Name = "ticker" };
            _ticker.Start();
        }

        public string Name => "ticker";
        public VfioDeviceLayout Layout { get; }
        public VfioMemoryRegion Pool { get; }
        public long Ticks;
        public Exception? Stopped;

        public bool Join(TimeSpan timeout) => _ticker.Join(timeout);

        private void Tick()
        {
            try
            {
                for (byte b = 0; ; b++)
                {
                    using var access = Pool.Access(0, Size);
                    access.Span.Fill(b);
                    Interlocked.Increment(ref Ticks);
                }
            }
            catch (Exception e)
            {
                Stopped = e;
            }
        }
    }

    private sealed class TickerDriver : MdevDriver
    {
        public readonly List<TickerDevice> Devices = [];
        public override string Name => "ticker";
        public override int GetAvailableInstances(MdevType type) => 1;

        public override void Probe(MdevDevice mdev)
        {
            var device = new TickerDevice();
            lock (Devices) Devices.Add(device);
            mdev.DriverData = new VfioDevice(mdev.Name, device);
        }

        // The guide's recipe, with nothing stopping the ticker first.
        public override void Remove(MdevDevice mdev)
        {
            ((VfioDevice)mdev.DriverData!).Unregister();
            mdev.DriverData = null;
        }
    }

    [Fact]
    public void A_thread_writing_region_memory_while_its_device_is_removed_gets_ENODEV_and_the_process_lives()
    {
        string dir = Path.Combine("/tmp", "vut-" + Guid.NewGuid().ToString("N")[..10]);
        var core = new MdevCore();
        var driver = new TickerDriver();
        var parent = core.RegisterParent(new MdevParentSpec("ticker", "devices/virtual/ticker/ticker", "ticker", null,
            [new MdevTypeSpec("1", "ticker", VfioPci.DeviceApi)]), driver);
        using (var service = new VfioUserService(core, dir, NullLoggerFactory.Instance))
        {
            for (int round = 0; round < 20; round++)
            {
                var mdev = core.Create(parent.Types[0], Guid.NewGuid());
                var device = driver.Devices[^1];
                using (var client = VfioUserClient.Connect(VfioUserService.SocketPathFor(dir, mdev.Uuid)))
                using (var mapped = client.MapRegion(VfioPci.Bar0RegionIndex, 0, TickerDevice.Size))
                {
                    // The client sees the ticker's writes through its own mapping of the memfd.
                    Assert.True(SpinWait.SpinUntil(() => Interlocked.Read(ref device.Ticks) > 2, TimeSpan.FromSeconds(10)));
                    Assert.True(SpinWait.SpinUntil(() => mapped.Span(TickerDevice.Size - 1, 1)[0] != 0, TimeSpan.FromSeconds(10)));
                }
                core.Remove(mdev);
                Assert.True(device.Join(TimeSpan.FromSeconds(10)), "the ticker never got an error");
                var error = Assert.IsType<ErrnoException>(device.Stopped);
                Assert.Equal(Errno.ENODEV, error.Errno);
            }
        }
        core.UnregisterParent(parent);
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    [Fact]
    public void An_access_in_progress_keeps_the_memory_mapped_through_the_unregister_and_later_ones_are_refused()
    {
        string name = "held-" + Guid.NewGuid().ToString("N")[..8];
        var device = new TickerDevice(name);
        Assert.False(device.Join(TimeSpan.Zero));
        var vfio = new VfioDevice("held", device);
        var access = device.Pool.Access(0, TickerDevice.Size);
        vfio.Unregister();
        Assert.True(device.Join(TimeSpan.FromSeconds(10)));
        access.Span.Fill(0x5A); // still mapped: the unmap waits for this access to end
        Assert.Equal(0x5A, access.Span[TickerDevice.Size - 1]);
        Assert.Contains(name, File.ReadAllText("/proc/self/maps"));
        access.Dispose();
        Assert.DoesNotContain(name, File.ReadAllText("/proc/self/maps")); // the last access's end unmapped it
        var refused = Assert.Throws<ErrnoException>(() => device.Pool.Access(0, 1));
        Assert.Equal(Errno.ENODEV, refused.Errno);
    }
}
