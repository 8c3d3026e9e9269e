using Umdev.Core;
using Umdev.Vfio;

namespace Umdev.Devices.Mbochs;

/// <summary>
/// The <c>mbochs</c> driver of the mdev bus: owns the memory pool, binds each new device to its emulated
/// display and answers <c>available_instances</c> (free megabytes / the type's megabytes).
/// </summary>
public sealed class MbochsDriver : MdevDriver
{
    private readonly MdevCapacity _memoryMb;

    /// <summary>A driver whose pool holds <see cref="MbochsOptions.MemoryMb"/> megabytes.</summary>
    public MbochsDriver(MbochsOptions options)
    {
        Options = options;
        _memoryMb = new MdevCapacity(options.MemoryMb);
        // The sample's parent: device "mbochs" of class "mbochs", no vendor attributes of its own.
        ParentSpec = new MdevParentSpec("mbochs", "devices/virtual/mbochs/mbochs", "mbochs", "mbochs",
            [.. MbochsType.All.Select(t => t.Spec)]);
    }

    /// <inheritdoc/>
    public override string Name => "mbochs";

    /// <summary>The options the driver was loaded with.</summary>
    public MbochsOptions Options { get; }

    /// <summary>What <see cref="Mbochs.Register"/> registers.</summary>
    public MdevParentSpec ParentSpec { get; }

    /// <summary>Megabytes of the pool not held by any device.</summary>
    public int AvailableMb => _memoryMb.Available;

    /// <summary>The mbochs type of an mdev type of this parent.</summary>
    public static MbochsType TypeOf(MdevType type) => MbochsType.All.First(t => t.Spec == type.Spec);

    /// <inheritdoc/>
    public override int GetAvailableInstances(MdevType type) => AvailableMb / TypeOf(type).MemoryMb;

    /// <inheritdoc/>
    public override string? GetDescription(MdevType type) => $"virtual display, {TypeOf(type).MemoryMb} MB video memory\n";

    /// <inheritdoc/>
    public override void Probe(MdevDevice mdev)
    {
        var type = TypeOf(mdev.Type);
        _memoryMb.Take(type.MemoryMb, "MB of mbochs memory");
        try
        {
            mdev.DriverData = new VfioDevice(mdev.Name, new MbochsDevice(type));
        }
        catch
        {
            _memoryMb.Give(type.MemoryMb);
            throw;
        }
    }

    /// <inheritdoc/>
    public override void Remove(MdevDevice mdev)
    {
        if (mdev.DriverData is not VfioDevice { Ops: MbochsDevice device } vfio) return;
        vfio.Unregister();
        mdev.DriverData = null;
        _memoryMb.Give(device.Type.MemoryMb);
    }

    /// <summary>The sample's <c>vendor/memory</c> file of each device.</summary>
    public override IReadOnlyList<MdevAttributeGroup> GetDeviceAttributeGroups(MdevDevice mdev)
    {
        int mb = TypeOf(mdev.Type).MemoryMb;
        return [new MdevAttributeGroup("vendor", [MdevAttribute.Text("memory", () => $"{mb} MB\n")])];
    }
}
