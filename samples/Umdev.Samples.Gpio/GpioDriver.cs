using Umdev.Core;
using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.Samples.Gpio;

/// <summary>
/// The driver of the <c>gpio</c> parent: one type, <c>gpio-bank</c>, and a pool of banks its devices
/// take one each (<c>available_instances</c>).
/// </summary>
public sealed class GpioDriver(int banks) : MdevDriver
{
    public static readonly MdevTypeSpec BankType = new("bank", "32-pin GPIO bank", VfioPci.DeviceApi);

    private int _free = banks;

    public override string Name => "gpio";

    public MdevParentSpec ParentSpec { get; } = new("gpio", "devices/virtual/gpio/gpio", "gpio", "gpio", [BankType]);

    public override int GetAvailableInstances(MdevType type) => Volatile.Read(ref _free);

    public override void Probe(MdevDevice mdev)
    {
        if (Interlocked.Decrement(ref _free) < 0)
        {
            Interlocked.Increment(ref _free);
            ThrowHelper.Throw(Errno.ENOSPC, "no GPIO bank left"); // what create(2) returns to the writer
        }
        mdev.DriverData = new VfioDevice(mdev.Name, new GpioDevice());
    }

    public override void Remove(MdevDevice mdev)
    {
        if (mdev.DriverData is not VfioDevice device) return;
        device.Unregister(); // closes the device for its users and releases their eventfds
        mdev.DriverData = null;
        Interlocked.Increment(ref _free);
    }
}

/// <summary>The sample as a parent of the daemon: <c>umdev serve --parent gpio:banks=8</c>.</summary>
public sealed class GpioParentPlugin : IMdevParentPlugin
{
    public string Name => "gpio";

    public string Description => "sample 32-pin GPIO banks (docs/writing-a-driver.md)";

    public IReadOnlyList<MdevParentOptionSpec> Options { get; } =
        [new("banks", MdevParentOptionKind.Int, "4", "how many banks the parent's devices share") { Min = 0 }];

    public MdevParent Register(MdevCore core, MdevParentOptions options)
    {
        var driver = new GpioDriver(options.GetInt("banks"));
        return core.RegisterParent(driver.ParentSpec, driver);
    }

    public void Unregister(MdevCore core, MdevParent parent)
    {
        core.UnregisterParent(parent);
        core.UnregisterDriver(parent.Driver);
    }
}
