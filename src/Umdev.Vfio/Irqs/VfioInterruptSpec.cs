namespace Umdev.Vfio;

/// <summary>
/// The interrupts a driver declares for a PCI device. Each declared index gets eventfd triggers and
/// the SET_IRQS handling of the model; an undeclared index reports EINVAL to GET_IRQ_INFO and ENOTTY
/// to SET_IRQS.
/// </summary>
/// <param name="Intx">INTx: one level-triggered, maskable, auto-masked line.</param>
/// <param name="MsiVectors">MSI vectors (0: none).</param>
/// <param name="MsixVectors">MSI-X vectors (0: none); the table and PBA live in a BAR the VMM emulates.</param>
/// <param name="Err">The ERR index (AER error notification).</param>
/// <param name="Req">The REQ index (a request that the user release the device).</param>
public sealed record VfioInterruptSpec(bool Intx = true, uint MsiVectors = 1, uint MsixVectors = 0, bool Err = false, bool Req = false)
{
    /// <summary>What mtty and most emulated cards have: INTx and one MSI vector.</summary>
    public static VfioInterruptSpec IntxAndMsi { get; } = new();

    /// <summary>No interrupts at all.</summary>
    public static VfioInterruptSpec None { get; } = new(Intx: false, MsiVectors: 0);

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
