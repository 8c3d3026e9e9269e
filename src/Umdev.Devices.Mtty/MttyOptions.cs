using Umdev.Vfio;

namespace Umdev.Devices.Mtty;

/// <summary>Options of one mtty parent.</summary>
/// <param name="Ports">
/// Size of the port pool shared by every mtty device of the parent (the kernel's <c>MAX_MTTYS</c>, 24).
/// Larger pools serve scale tests.
/// </param>
/// <param name="IntxUnmask">
/// What an INTx unmask does while a port still shows an enabled condition (mtty.md §13 note 9, issue 9).
/// <see cref="VfioIntxUnmask.Never"/> is the sample's behaviour (an event raised while masked is lost);
/// <see cref="VfioIntxUnmask.Level"/> signals again as a level line; the default
/// <see cref="VfioIntxUnmask.Pending"/> signals again only what the mask swallowed, so a QEMU that
/// unmasks at every BAR access is not interrupted again at every access of the guest's handler.
/// </param>
public sealed record MttyOptions(int Ports = 24, VfioIntxUnmask IntxUnmask = VfioIntxUnmask.Pending);
