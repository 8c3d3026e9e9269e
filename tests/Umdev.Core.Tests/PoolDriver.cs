using Umdev.Core;
using Umdev.Interop;

namespace Umdev.Core.Tests;

/// <summary>A test driver with an mtty-like shared pool: type "a" takes 1 unit, type "b" takes 2.</summary>
public sealed class PoolDriver(int units) : MdevDriver
{
    private int _free = units;

    public int Free => Volatile.Read(ref _free);
    public int Probes;
    public int Removes;
    public ManualResetEventSlim? ProbeGate;
    public volatile MdevDevice? Probing;

    public static MdevParentSpec Spec(string name = "pool") => new(name, $"devices/virtual/{name}/{name}", name, name,
        [new MdevTypeSpec("a", "Single unit", "vfio-pci"), new MdevTypeSpec("b", null, "vfio-pci")]);

    public override string Name => "pool";

    private static int Cost(MdevType type) => type.Spec.SysfsName == "a" ? 1 : 2;

    public override void Probe(MdevDevice mdev)
    {
        Probing = mdev;
        ProbeGate?.Wait();
        int cost = Cost(mdev.Type);
        while (true)
        {
            int free = Volatile.Read(ref _free);
            if (free < cost) ThrowHelper.Throw(Errno.ENOSPC);
            if (Interlocked.CompareExchange(ref _free, free - cost, free) == free) break;
        }
        Interlocked.Increment(ref Probes);
        mdev.DriverData = this;
    }

    public override void Remove(MdevDevice mdev)
    {
        Interlocked.Add(ref _free, Cost(mdev.Type));
        Interlocked.Increment(ref Removes);
    }

    public override int GetAvailableInstances(MdevType type) => Free / Cost(type);
}
