using Umdev.Core;
using Umdev.Interop;

namespace Umdev.Sysfs.Tests;

/// <summary>
/// A test-only stand-in for mtty with the same sysfs face: parent "mtty" of class mtty, types mtty-1
/// (one port) and mtty-2 (two ports) sharing a port pool, ENOSPC when the pool is short, and the
/// vendor/sample_mdev_dev attribute.
/// </summary>
public sealed class FakeSerialDriver : MdevDriver
{
    private int _availablePorts;

    public FakeSerialDriver(int ports) => _availablePorts = ports;

    public override string Name => "mtty";

    public int AvailablePorts => Volatile.Read(ref _availablePorts);

    public static MdevParent Register(MdevCore core, int ports = 24)
    {
        var spec = new MdevParentSpec("mtty", "devices/virtual/mtty/mtty", "mtty", "mtty",
        [
            new MdevTypeSpec("1", "Single port serial", "vfio-pci"),
            new MdevTypeSpec("2", "Dual port serial", "vfio-pci"),
        ]);
        return core.RegisterParent(spec, new FakeSerialDriver(ports));
    }

    private static int PortsOf(MdevType type) => type.Spec.SysfsName == "2" ? 2 : 1;

    public override void Probe(MdevDevice mdev)
    {
        int ports = PortsOf(mdev.Type);
        while (true)
        {
            int available = Volatile.Read(ref _availablePorts);
            if (available < ports) ThrowHelper.Throw(Errno.ENOSPC, "port pool exhausted");
            if (Interlocked.CompareExchange(ref _availablePorts, available - ports, available) == available) return;
        }
    }

    public override void Remove(MdevDevice mdev) => Interlocked.Add(ref _availablePorts, PortsOf(mdev.Type));

    public override int GetAvailableInstances(MdevType type) => AvailablePorts / PortsOf(type);

    public override IReadOnlyList<MdevAttributeGroup> GetDeviceAttributeGroups(MdevDevice mdev) =>
        [new("vendor", [MdevAttribute.Text("sample_mdev_dev", () => $"This is MDEV {mdev.Name}\n")])];
}
