namespace Umdev.Core;

/// <summary>
/// A driver on the mdev bus (kernel <c>struct mdev_driver</c>): binds each new device of the parents
/// that registered with it. Probe and Remove may run concurrently for different devices.
/// </summary>
public abstract class MdevDriver
{
    /// <summary>The driver name (<c>/sys/bus/mdev/drivers/&lt;name&gt;</c>).</summary>
    public abstract string Name { get; }

    /// <summary>Binds a new device; throw <see cref="Interop.ErrnoException"/> (e.g. ENOSPC) to refuse it.</summary>
    public abstract void Probe(MdevDevice mdev);

    /// <summary>
    /// Unbinds a device and releases everything it held. Called once no show or store of the device's
    /// attributes runs any more, and none will (see <see cref="MdevDevice.AttributeGroups"/>).
    /// </summary>
    public abstract void Remove(MdevDevice mdev);

    /// <summary>Instances of <paramref name="type"/> that can still be created (asked on every read).</summary>
    public abstract int GetAvailableInstances(MdevType type);

    /// <summary>The type's description, or null when the driver offers none (no <c>description</c> file).</summary>
    public virtual string? GetDescription(MdevType type) => null;

    /// <summary>
    /// Driver attribute groups a bound device shows (mtty's <c>vendor/sample_mdev_dev</c>); asked on every
    /// lookup, never once <see cref="Remove"/> may run, and their show and store likewise.
    /// </summary>
    public virtual IReadOnlyList<MdevAttributeGroup> GetDeviceAttributeGroups(MdevDevice mdev) => [];
}
