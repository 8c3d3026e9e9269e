namespace Umdev.Vfio;

/// <summary>
/// Behaviours of the kernel's mdev samples that a faithful port keeps and any other driver should not:
/// each is opted into by name in <see cref="VfioDeviceLayout.Compatibility"/>.
/// </summary>
[Flags]
public enum VfioCompatibility
{
    /// <summary>vfio-pci's behaviour throughout.</summary>
    None = 0,

    /// <summary>
    /// IRQ queries are answered from the count cached by the last GET_INFO (mtty): before the first
    /// GET_INFO every GET_IRQ_INFO and SET_IRQS fails with EINVAL.
    /// </summary>
    IrqInfoNeedsDeviceInfo = 1 << 0,

    /// <summary>
    /// GET_IRQ_INFO of an undeclared index below <see cref="VfioPci.NumIrqs"/> reports count 0 and no flags
    /// (mbochs) instead of EINVAL. SET_IRQS on it still fails with ENOTTY.
    /// </summary>
    UndeclaredIrqsCountZero = 1 << 1,

    /// <summary>SET_IRQS with no action bit, or several, succeeds doing nothing (both samples); vfio-pci answers ENOTTY.</summary>
    SetIrqsWithoutAction = 1 << 2,

    /// <summary>One MSI vector is reported although config space declares no MSI capability (mtty).</summary>
    MsiWithoutCapability = 1 << 3,
}
