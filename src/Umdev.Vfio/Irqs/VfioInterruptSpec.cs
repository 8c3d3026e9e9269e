using System.Buffers.Binary;
using Umdev.Vfio.Pci;

namespace Umdev.Vfio;

/// <summary>
/// The interrupts of a device. Each declared index gets eventfd triggers and the SET_IRQS handling of
/// the model; an undeclared index reports EINVAL to GET_IRQ_INFO and ENOTTY to SET_IRQS. A PCI device
/// does not write one: the model derives it from its config space (<see cref="From"/>).
/// </summary>
/// <param name="Intx">INTx: one level-triggered, maskable, auto-masked line.</param>
/// <param name="MsiVectors">MSI vectors (0: none).</param>
/// <param name="MsixVectors">MSI-X vectors (0: none); the table and PBA live in a BAR the VMM emulates.</param>
/// <param name="Err">The ERR index (AER error notification).</param>
/// <param name="Req">The REQ index (a request that the user release the device): on unless turned off, since
/// without it a VMM holding the device is never asked to let go and its removal fails with EBUSY.</param>
public sealed record VfioInterruptSpec(bool Intx = false, uint MsiVectors = 0, uint MsixVectors = 0, bool Err = false, bool Req = true)
{
    /// <summary>INTx, one MSI vector and REQ.</summary>
    public static VfioInterruptSpec IntxAndMsi { get; } = new(Intx: true, MsiVectors: 1);

    /// <summary>No interrupts at all, not even REQ.</summary>
    public static VfioInterruptSpec None { get; } = new(Req: false);

    /// <summary>
    /// What <paramref name="config"/> declares: INTx iff an interrupt pin is set, MSI vectors from the MSI
    /// capability, MSI-X vectors from the MSI-X capability's table size; REQ on, ERR off.
    /// <see cref="VfioCompatibility.MsiWithoutCapability"/> in <paramref name="compatibility"/> adds one MSI
    /// vector to a space with no MSI capability.
    /// </summary>
    public static VfioInterruptSpec From(PciConfigLayout config, VfioCompatibility compatibility = VfioCompatibility.None)
    {
        ArgumentNullException.ThrowIfNull(config);
        var bytes = config.Initial;
        uint msi = 0, msix = 0;
        if (config.FindCapability(PciCapabilityId.Msi) is { } m)
            msi = 1u << ((BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(m.Offset + 2)) >> 1) & 0x7);
        else if ((compatibility & VfioCompatibility.MsiWithoutCapability) != 0)
            msi = 1;
        if (config.FindCapability(PciCapabilityId.MsiX) is { } x)
            msix = (uint)(BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(x.Offset + 2)) & 0x7ff) + 1;
        return new VfioInterruptSpec(Intx: bytes[PciHeader.InterruptPin] != 0, MsiVectors: msi, MsixVectors: msix);
    }

    internal uint VectorsOf(uint index) => index switch
    {
        VfioPci.IntxIrqIndex => Intx ? 1u : 0,
        VfioPci.MsiIrqIndex => MsiVectors,
        VfioPci.MsixIrqIndex => MsixVectors,
        VfioPci.ErrIrqIndex => Err ? 1u : 0,
        VfioPci.ReqIrqIndex => Req ? 1u : 0,
        _ => 0,
    };
}
