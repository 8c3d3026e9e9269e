namespace Umdev.Vfio;

/// <summary><c>vfio_device_info</c> without argsz and the caps chain.</summary>
public readonly record struct VfioDeviceInfo(VfioDeviceFlags Flags, uint NumRegions, uint NumIrqs)
{
    /// <summary>The fixed part a caller must leave room for (end of num_irqs).</summary>
    public const uint MinArgsz = 16;
}

/// <summary><c>vfio_irq_info</c>.</summary>
public readonly record struct VfioIrqInfo(uint Index, VfioIrqInfoFlags Flags, uint Count)
{
    public const uint MinArgsz = 16;
}
