namespace Umdev.Core;

/// <summary>Why a device is being removed, as <see cref="IMdevObserver.OnDeviceRemoving"/> is told.</summary>
public enum MdevRemoveReason
{
    /// <summary>A write to the device's <c>remove</c> file.</summary>
    UserRequest,

    /// <summary>The parent is unregistering; observers cannot refuse.</summary>
    ParentUnregister,
}

/// <summary>
/// A layer that follows device life cycles (the sysfs tree, the vfio-user sockets). The device calls run
/// while the core holds the device's parent's unregister lock: shared during a create or a remove, so
/// calls for different devices may run concurrently; exclusive while the parent unregisters. An observer
/// must therefore not register, unregister or wait for that parent, and a slow one delays its
/// unregistration. The parent calls run outside it. No other core lock is held.
/// </summary>
public interface IMdevObserver
{
    /// <summary>
    /// The device was bound. It is still <see cref="MdevDeviceState.Creating"/>: it becomes active and visible
    /// only once every observer returned. Throwing undoes the creation.
    /// </summary>
    void OnDeviceAdded(MdevDevice mdev) { }

    /// <summary>
    /// The device is about to be removed. For <see cref="MdevRemoveReason.UserRequest"/> an observer may
    /// refuse by throwing <see cref="Interop.ErrnoException"/> (e.g. EBUSY); the device then stays as it was,
    /// and the observers asked before it hear <see cref="OnDeviceRemoveCancelled"/>.
    /// </summary>
    void OnDeviceRemoving(MdevDevice mdev, MdevRemoveReason reason) { }

    /// <summary>
    /// A removal this observer accepted in <see cref="OnDeviceRemoving"/> was refused by a later observer:
    /// the device is active again and stays.
    /// </summary>
    void OnDeviceRemoveCancelled(MdevDevice mdev) { }

    /// <summary>
    /// The device is gone and everything it held is released. Its UUID cannot be created again until every
    /// observer returned from this call, so what an observer keys by UUID cannot be taken by a newer device meanwhile.
    /// </summary>
    void OnDeviceRemoved(MdevDevice mdev) { }

    /// <summary>A parent and its types were registered; its devices can now be created.</summary>
    void OnParentRegistered(MdevParent parent) { }

    /// <summary>A parent is gone, after every device of it was removed.</summary>
    void OnParentUnregistered(MdevParent parent) { }
}
