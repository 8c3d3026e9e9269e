namespace Umdev.Core;

public enum MdevRemoveReason
{
    /// <summary>A write to the device's <c>remove</c> file.</summary>
    UserRequest,

    /// <summary>The parent is unregistering; observers cannot refuse.</summary>
    ParentUnregister,
}

/// <summary>
/// A layer that follows device life cycles (the sysfs tree, the vfio-user sockets). Called outside any
/// core lock; concurrent calls for different devices are possible.
/// </summary>
public interface IMdevObserver
{
    /// <summary>The device was bound and is now active. Throwing undoes the creation.</summary>
    void OnDeviceAdded(MdevDevice mdev) { }

    /// <summary>
    /// The device is about to be removed. For <see cref="MdevRemoveReason.UserRequest"/> an observer may
    /// refuse by throwing <see cref="Interop.ErrnoException"/> (e.g. EBUSY); the device then stays as it was.
    /// </summary>
    void OnDeviceRemoving(MdevDevice mdev, MdevRemoveReason reason) { }

    /// <summary>The device is gone and everything it held is released.</summary>
    void OnDeviceRemoved(MdevDevice mdev) { }

    void OnParentRegistered(MdevParent parent) { }

    void OnParentUnregistered(MdevParent parent) { }
}
