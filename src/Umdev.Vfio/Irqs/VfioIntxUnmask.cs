namespace Umdev.Vfio;

/// <summary>What an INTx UNMASK does while the device still asserts the line.</summary>
public enum VfioIntxUnmask
{
    /// <summary>Signal again whenever the line is still asserted, as a level-triggered line would.</summary>
    Level,

    /// <summary>
    /// Signal again only when an event was raised while the line was masked and the line is still
    /// asserted. QEMU without KVM's resampler (TCG, and every vfio-user client) takes any BAR access as
    /// the guest's EOI and unmasks at its handler's first access, while the condition it is about to
    /// serve still holds; <see cref="Level"/> then signals again at every access of the handler.
    /// </summary>
    Pending,

    /// <summary>Never signal: an event raised while masked is lost (the kernel's mtty sample).</summary>
    Never,
}
