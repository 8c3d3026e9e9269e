using Umdev.Vfio;

namespace Umdev.Devices.Mtty;

/// <summary>
/// One mtty card (the kernel's <c>mdev_state</c> with <c>vfio-mtty</c> ops): PCI config space, one or
/// two UARTs and their interrupt. The model checks every access against the declared regions; one lock
/// serialises the card's state, as the sample's <c>ops_lock</c>. State lives from creation to removal.
/// </summary>
internal sealed partial class MttyDevice : IVfioDeviceOps
{
    private readonly Lock _lock = new();
    private readonly MttyUartPort[] _ports;
    private readonly VfioInterrupts _irqs;

    public MttyDevice(int numPorts, VfioIntxUnmask intxUnmask = VfioIntxUnmask.Pending)
    {
        // The sample reports MSI with no MSI capability in config space (mtty.md §13 note 15).
        _irqs = new VfioInterrupts(VfioInterruptSpec.From(MttyConfigSpace.Of(numPorts), Compatibility)) { IntxUnmask = intxUnmask };
        NumPorts = numPorts;
        _ports = new MttyUartPort[numPorts];
        for (int i = 0; i < numPorts; i++) _ports[i] = new MttyUartPort();
        Layout = new VfioDeviceLayout
        {
            Regions = DeclareRegions(),
            Interrupts = _irqs,
            Compatibility = Compatibility,
        };
    }

    /// <summary>The sample's answers: IRQ queries need GET_INFO first (it caches num_irqs), SET_IRQS without an action succeeds, MSI without its capability.</summary>
    private const VfioCompatibility Compatibility =
        VfioCompatibility.IrqInfoNeedsDeviceInfo | VfioCompatibility.SetIrqsWithoutAction | VfioCompatibility.MsiWithoutCapability;

    public int NumPorts { get; }

    public string Name => "vfio-mtty";

    public VfioDeviceLayout Layout { get; }

    /// <summary>
    /// BAR0 (and BAR1 of a two-port card): a port's 8 registers; the config region: 256 bytes. Every
    /// other index is reported empty with read|write flags, as the sample reports them.
    /// Fix (mtty.md §13 note 13): the sample indexes its port array with regions 2–5 (out of bounds) and
    /// fails 6, 8 and ≥ 9 with EFAULT; the model refuses all of them with EINVAL. Fix (note 11): accesses
    /// past the config space are refused, as are BAR accesses past a port's 8 registers and BAR1 of a
    /// one-port card (the sample accepts both, reading 0 or reaching a port the card does not have).
    /// </summary>
    private VfioRegion[] DeclareRegions()
    {
        const VfioRegionFlags rw = VfioRegionFlags.Read | VfioRegionFlags.Write;
        var regions = new VfioRegion[VfioPci.NumRegions];
        for (uint index = 0; index < VfioPci.NumRegions; index++)
        {
            if (index < NumPorts)
                regions[index] = new PortRegion(index, this, _ports[index]);
            else if (index == VfioPci.ConfigRegionIndex)
                regions[index] = new VfioPciConfigRegion(MttyConfigSpace.Of(NumPorts));
            else
                regions[index] = VfioRegion.Empty(index, rw);
        }
        return regions;
    }

    /// <summary>A port's 8 registers (BAR0, BAR1): one object per region, no handler delegates.</summary>
    private sealed class PortRegion(uint index, MttyDevice card, MttyUartPort port)
        : VfioRegion(index, MttyConfigSpace.BarSize, VfioRegionFlags.Read | VfioRegionFlags.Write)
    {
        protected override void Read(ulong offset, Span<byte> data) => card.ReadPort(port, offset, data);

        protected override void Write(ulong offset, ReadOnlySpan<byte> data) => card.WritePort(port, offset, data);
    }

    /// <summary>
    /// Only the register at each piece's start is read. Fix (mtty.md §13 note 10): the bytes the sample
    /// leaves unwritten (uninitialised stack) are 0 here.
    /// </summary>
    private void ReadPort(MttyUartPort port, ulong offset, Span<byte> data)
    {
        lock (_lock)
        {
            foreach (var (at, pos, size) in new VfioAccessPieces(offset, data.Length))
            {
                var piece = data.Slice(at, size);
                piece.Clear();
                RaiseEvents(port.Read((uint)pos, out piece[0]));
            }
            UpdateLevel();
        }
    }

    /// <summary>Only the first byte of each piece is written, to the register at its start.</summary>
    private void WritePort(MttyUartPort port, ulong offset, ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            foreach (var (at, pos, size) in new VfioAccessPieces(offset, data.Length))
                RaiseEvents(port.Write((uint)pos, data[at]));
            UpdateLevel();
        }
    }

    /// <summary>One interrupt per UART event, as the sample raises them.</summary>
    private void RaiseEvents(int events)
    {
        for (int i = 0; i < events; i++) _irqs.Raise();
    }

    /// <summary>VFIO_DEVICE_RESET: the UART, config space and IRQ setup are kept, as in the sample.</summary>
    public void Reset() { }

    /// <summary>
    /// Fix (mtty.md §13 note 9): the sample treats INTx as edge events, so a condition that arose while
    /// the line was masked is lost and a guest waiting for it can stall. The card drives a level: any
    /// port showing an enabled condition in its IIR keeps the line asserted, and the model signals it
    /// again at unmask as <see cref="MttyOptions.IntxUnmask"/> says (default: only an event raised while
    /// masked, issue 9; the parent option <c>intx=sample</c> goes back to the sample's loss).
    /// </summary>
    private void UpdateLevel()
    {
        bool pending = false;
        foreach (var port in _ports) pending |= port.InterruptPending;
        _irqs.SetLevel(pending);
    }
}
