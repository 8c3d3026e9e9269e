namespace Umdev.Devices.Mbochs;

/// <summary>Options of one mbochs parent.</summary>
/// <param name="MemoryMb">
/// Megabytes of video memory the parent's devices share (the module parameter <c>count</c>, default 256):
/// a device takes its type's memory at create and gives it back at remove.
/// </param>
public sealed record MbochsOptions(int MemoryMb = 256);
