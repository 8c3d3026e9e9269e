namespace Umdev.Vfio;

/// <summary>What a driver declares of a device: its regions and interrupts.</summary>
public sealed record VfioDeviceLayout
{
    /// <summary>GET_INFO flags (PCI by default).</summary>
    public VfioDeviceFlags Flags { get; init; } = VfioDeviceFlags.Pci;

    /// <summary>Regions GET_INFO reports (a PCI device: 9); an index below it not declared in <see cref="Regions"/> is empty.</summary>
    public uint NumRegions { get; init; } = VfioPci.NumRegions;

    /// <summary>The declared regions, at most one per index.</summary>
    public IReadOnlyList<VfioRegion> Regions { get; init; } = [];

    /// <summary>The device's interrupts; the driver keeps the same object to raise them.</summary>
    public VfioInterrupts Interrupts { get; init; } = new(VfioInterruptSpec.None);

    /// <summary>
    /// Keeps the mdev samples' behaviour of answering IRQ queries from the count cached by the last
    /// GET_INFO: before the first GET_INFO every GET_IRQ_INFO and SET_IRQS fails with EINVAL.
    /// </summary>
    public bool IrqsNeedDeviceInfo { get; init; }

    /// <summary>
    /// GET_IRQ_INFO of an index below <see cref="VfioPci.NumIrqs"/> that <see cref="Interrupts"/> does not
    /// declare reports count 0 and no flags (mbochs, whose every index has count 0) instead of EINVAL (mtty).
    /// SET_IRQS on it still fails with ENOTTY.
    /// </summary>
    public bool UndeclaredIrqsHaveCountZero { get; init; }
}
