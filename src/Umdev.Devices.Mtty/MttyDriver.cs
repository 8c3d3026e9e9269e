using Umdev.Core;
using Umdev.Vfio;

namespace Umdev.Devices.Mtty;

/// <summary>
/// The <c>mtty</c> driver of the mdev bus: owns the port pool, binds each new device to its emulated
/// card and answers <c>available_instances</c>.
/// </summary>
public sealed class MttyDriver : MdevDriver
{
    public static readonly MdevTypeSpec SinglePortType = new("1", "Single port serial", VfioPci.DeviceApi);
    public static readonly MdevTypeSpec DualPortType = new("2", "Dual port serial", VfioPci.DeviceApi);

    private readonly MdevCapacity _ports;

    public MttyDriver(MttyOptions options)
    {
        Options = options;
        _ports = new MdevCapacity(options.Ports);
        ParentSpec = new MdevParentSpec("mtty", "devices/virtual/mtty/mtty", "mtty", "mtty", [SinglePortType, DualPortType])
        {
            AttributeGroups =
            [
                new MdevAttributeGroup("mtty_dev", [MdevAttribute.Text("sample_mtty_dev", () => "This is phy device\n")]),
            ],
        };
    }

    public override string Name => "mtty";

    public MttyOptions Options { get; }

    public MdevParentSpec ParentSpec { get; }

    /// <summary>Ports of the pool not held by any device.</summary>
    public int AvailablePorts => _ports.Available;

    public static int PortsOf(MdevType type) => type.Spec == DualPortType ? 2 : 1;

    public override int GetAvailableInstances(MdevType type) => AvailablePorts / PortsOf(type);

    public override void Probe(MdevDevice mdev)
    {
        int ports = PortsOf(mdev.Type);
        _ports.Take(ports, "mtty ports");
        try
        {
            mdev.DriverData = new VfioDevice(mdev.Name, new MttyDevice(ports, Options.IntxUnmask));
        }
        catch
        {
            _ports.Give(ports);
            throw;
        }
    }

    public override void Remove(MdevDevice mdev)
    {
        if (mdev.DriverData is not VfioDevice { Ops: MttyDevice device } vfio) return;
        vfio.Unregister();
        mdev.DriverData = null;
        _ports.Give(device.NumPorts);
    }

    public override IReadOnlyList<MdevAttributeGroup> GetDeviceAttributeGroups(MdevDevice mdev) =>
        [new MdevAttributeGroup("vendor", [MdevAttribute.Text("sample_mdev_dev", () => $"This is MDEV {mdev.Name}\n")])];
}
