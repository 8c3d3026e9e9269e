namespace Umdev.Vfio;

/// <summary>
/// What a driver declares of a device: its regions and, unless they follow from its PCI config space,
/// its interrupts.
/// </summary>
public sealed record VfioDeviceLayout
{
    private VfioInterrupts? _interrupts;

    /// <summary>GET_INFO flags (PCI by default).</summary>
    public VfioDeviceFlags Flags { get; init; } = VfioDeviceFlags.Pci;

    /// <summary>Regions GET_INFO reports (a PCI device: 9); an index below it not declared in <see cref="Regions"/> is empty.</summary>
    public uint NumRegions { get; init; } = VfioPci.NumRegions;

    /// <summary>
    /// The declared regions, at most one per index. A PCI device declares its config space as a
    /// <see cref="VfioPciConfigRegion"/>; the model derives the interrupts from it and checks the BAR
    /// regions against its BARs when the device is registered.
    /// </summary>
    public IReadOnlyList<VfioRegion> Regions { get; init; } = [];

    /// <summary>
    /// The device's interrupts; the driver keeps the same object to raise them. Unless given, derived
    /// from the config region (<see cref="VfioInterruptSpec.From"/>), or REQ alone without one. Given,
    /// they must agree with the config region (checked when the device is registered).
    /// </summary>
    public VfioInterrupts Interrupts
    {
        get => _interrupts ?? LazyInitializer.EnsureInitialized(ref _interrupts, () => new VfioInterrupts(DerivedInterrupts));
        init => _interrupts = value;
    }

    /// <summary>The samples' behaviours this device keeps (none by default).</summary>
    public VfioCompatibility Compatibility { get; init; }

    /// <summary>The config region among <see cref="Regions"/>, if the device declares one.</summary>
    internal VfioPciConfigRegion? ConfigRegion
    {
        get
        {
            foreach (var region in Regions)
                if (region is VfioPciConfigRegion config) return config;
            return null;
        }
    }

    /// <summary>What the config region declares, or REQ alone.</summary>
    internal VfioInterruptSpec DerivedInterrupts =>
        ConfigRegion is { } config ? VfioInterruptSpec.From(config.Layout, Compatibility) : new VfioInterruptSpec();

    internal bool Has(VfioCompatibility option) => (Compatibility & option) != 0;
}
