using Umdev.Vfio.Pci;

namespace Umdev.Vfio;

/// <summary>
/// A device's PCI configuration space as its config region (index 7), built from the driver's one
/// declaration (<see cref="PciConfigLayout"/>). The model serialises every access to it, guest and
/// device alike, so a driver writes no lock for config space. From the same declaration the model
/// derives the device's interrupts (<see cref="VfioInterruptSpec.From"/>) and checks its BAR regions.
/// A device with config-space quirks derives from it and overrides <see cref="OnRead"/> or <see cref="OnWrite"/>.
/// </summary>
public class VfioPciConfigRegion : VfioRegion
{
    private readonly Lock _lock = new();
    private readonly PciConfigSpace _space;

    /// <summary>A config region holding the reset bytes of <paramref name="layout"/> (keep the layout static: one per device kind).</summary>
    public VfioPciConfigRegion(PciConfigLayout layout)
        : base(VfioPci.ConfigRegionIndex, (ulong)layout.Size, VfioRegionFlags.Read | VfioRegionFlags.Write)
    {
        Layout = layout;
        _space = layout.CreateSpace();
    }

    /// <summary>The declaration the space was built from.</summary>
    public PciConfigLayout Layout { get; }

    /// <summary>A guest read, under the region's lock; by default the bytes as they are.</summary>
    protected virtual void OnRead(PciConfigSpace space, int offset, Span<byte> data) => space.Read(offset, data);

    /// <summary>A guest write, under the region's lock; by default through the layout's rules and hooks.</summary>
    protected virtual void OnWrite(PciConfigSpace space, int offset, ReadOnlySpan<byte> data) => space.Write(offset, data);

    /// <summary>Copies the whole space (a migration save), serialised with guest accesses.</summary>
    public void CopyTo(Span<byte> destination)
    {
        lock (_lock) _space.Read(0, destination[.._space.Size]);
    }

    /// <summary>Replaces the whole space with saved bytes, no rule applied (a migration load).</summary>
    public void Restore(ReadOnlySpan<byte> source)
    {
        lock (_lock) _space.Store(0, source[.._space.Size]);
    }

    /// <summary>Back to the declared bytes (a function-level reset).</summary>
    public void Reset()
    {
        lock (_lock) _space.Reset();
    }

    /// <inheritdoc/>
    protected internal sealed override void Read(ulong offset, Span<byte> data)
    {
        lock (_lock) OnRead(_space, (int)offset, data);
    }

    /// <inheritdoc/>
    protected internal sealed override void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        lock (_lock) OnWrite(_space, (int)offset, data);
    }
}
