namespace Umdev.Devices.Mtty;

/// <summary>Options of one mtty parent.</summary>
/// <param name="Ports">
/// Size of the port pool shared by every mtty device of the parent (the kernel's <c>MAX_MTTYS</c>, 24).
/// Larger pools serve scale tests.
/// </param>
public sealed record MttyOptions(int Ports = 24);
