namespace Umdev.Vfio.Pci;

/// <summary>
/// A config space as a driver declared it with <see cref="PciConfigSpaceBuilder"/>: the bytes at reset,
/// the write rule of every bit, the hooks, the BARs and the capabilities. Immutable, so one layout
/// serves every device of a type; each device gets its own bytes from <see cref="CreateSpace"/>.
/// </summary>
public sealed class PciConfigLayout
{
    internal PciConfigLayout(byte[] initial, byte[] writable, byte[] writeOneToClear, HookRange[] hooks,
        IReadOnlyList<PciBarDefinition> bars, IReadOnlyList<PciCapability> capabilities)
    {
        Initial = initial;
        Writable = writable;
        WriteOneToClear = writeOneToClear;
        Hooks = hooks;
        Bars = bars;
        Capabilities = capabilities;
    }

    /// <summary>Bytes of config space: 256 (conventional) or 4096 (PCI Express).</summary>
    public int Size => Initial.Length;

    /// <summary>The declared BARs, by index.</summary>
    public IReadOnlyList<PciBarDefinition> Bars { get; }

    /// <summary>The capability list in chain order.</summary>
    public IReadOnlyList<PciCapability> Capabilities { get; }

    internal byte[] Initial { get; }
    internal byte[] Writable { get; }
    internal byte[] WriteOneToClear { get; }

    /// <summary>Hooked ranges, sorted and disjoint.</summary>
    internal HookRange[] Hooks { get; }

    /// <summary>A new config space holding the reset bytes.</summary>
    public PciConfigSpace CreateSpace() => new(this);

    /// <summary>The BAR declared at <paramref name="index"/> (its low slot for a 64-bit pair), if any.</summary>
    public PciBarDefinition? FindBar(int index)
    {
        foreach (var bar in Bars)
            if (bar.Index == index) return bar;
        return null;
    }

    /// <summary>The first capability with <paramref name="id"/>, if any.</summary>
    public PciCapability? FindCapability(PciCapabilityId id)
    {
        foreach (var cap in Capabilities)
            if (cap.Id == id) return cap;
        return null;
    }

    internal readonly record struct HookRange(int Start, int Length, PciConfigWriteHook Hook)
    {
        public int End => Start + Length;
    }
}
