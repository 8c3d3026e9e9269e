using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using Umdev.Core;

namespace Umdev.Sysfs.Tests;

/// <summary>
/// Reads of a driver's attribute racing <c>echo 1 &gt; remove</c>, through the mount. The driver is written
/// as the guide has it: its show reads DriverData without a guard, its Remove clears DriverData (and then
/// takes a while, as a driver flushing a disk does). Every read must give the value or ENODEV/ENOENT; the
/// driver's code must never run into its own teardown (nothing logged).
/// </summary>
public sealed class AttributeRemovalRaceTests
{
    private sealed class Counter
    {
        public int Value = 42;
    }

    private sealed class CounterDriver : MdevDriver
    {
        public override string Name => "counter";
        public override int GetAvailableInstances(MdevType type) => 1;
        public override void Probe(MdevDevice mdev) => mdev.DriverData = new Counter();

        public override void Remove(MdevDevice mdev)
        {
            mdev.DriverData = null;
            Thread.Sleep(20);
        }

        public override IReadOnlyList<MdevAttributeGroup> GetDeviceAttributeGroups(MdevDevice mdev) =>
            [new MdevAttributeGroup(null, [MdevAttribute.Text("value", () => ((Counter)mdev.DriverData!).Value + "\n")])];
    }

    /// <summary>Keeps what the tree logs at Warning and above (a request that failed with an exception).</summary>
    private sealed class FailureLog : ILogger
    {
        public readonly List<string> Lines = [];
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) lock (Lines) Lines.Add($"{eventId.Name}: {formatter(state, exception)} {exception?.GetType().Name}");
        }
    }

    private const int Enodev = 19;

    [Fact]
    public void Reads_racing_a_remove_see_the_value_or_ENODEV_or_ENOENT_and_nothing_fails()
    {
        var log = new FailureLog();
        using var t = new MountedTree(logger: log);
        var parent = t.Core.RegisterParent(new MdevParentSpec("counter", "devices/virtual/counter/counter", "counter", null,
            [new MdevTypeSpec("1", "counter", "vfio-pci")]), new CounterDriver());
        var unexpected = new List<string>();
        int values = 0, gone = 0;
        try
        {
            for (int round = 0; round < 15; round++)
            {
                var mdev = t.Core.Create(parent.Types[0], Guid.NewGuid());
                string file = Path.Combine(t.PathOf(parent.Spec.DevicePath), mdev.Name, "value");
                bool removed = false;
                var readers = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
                {
                    var buffer = new byte[64];
                    // Until the device is gone: reads on open handles (show runs again at offset 0) and new opens.
                    while (!Volatile.Read(ref removed) || Volatile.Read(ref gone) == 0)
                    {
                        SafeFileHandle handle;
                        try { handle = File.OpenHandle(file); }
                        catch (Exception e) { Classify(e); if (Volatile.Read(ref removed)) return; continue; }
                        using (handle)
                        {
                            while (true)
                            {
                                try
                                {
                                    int n = RandomAccess.Read(handle, buffer, 0);
                                    string text = System.Text.Encoding.ASCII.GetString(buffer, 0, n);
                                    if (text == "42\n") Interlocked.Increment(ref values);
                                    else lock (unexpected) unexpected.Add($"read {text}");
                                }
                                catch (Exception e)
                                {
                                    Classify(e);
                                    break;
                                }
                            }
                        }
                    }
                })).ToList();
                readers.ForEach(r => r.Start());
                Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref values) > 0, TimeSpan.FromSeconds(30)), "no read ever succeeded");
                Thread.Sleep(5);
                Shell.Run("/bin/sh", "-c", $"echo 1 > {Path.GetDirectoryName(file)}/remove").AssertSuccess("remove");
                Volatile.Write(ref removed, true);
                foreach (var r in readers) Assert.True(r.Join(TimeSpan.FromSeconds(30)), "a reader never saw the device go");
                Assert.Null(t.Core.FindDevice(mdev.Uuid));
            }
        }
        finally
        {
            t.Core.UnregisterParent(parent);
        }
        Assert.Empty(unexpected);
        Assert.Empty(log.Lines);
        Assert.True(gone > 0);

        void Classify(Exception e)
        {
            if (e is FileNotFoundException or DirectoryNotFoundException || e is IOException { HResult: Enodev })
                Interlocked.Increment(ref gone);
            else lock (unexpected) unexpected.Add($"{e.GetType().Name} {e.HResult}: {e.Message}");
        }
    }
}
