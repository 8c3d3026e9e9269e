namespace Umdev.Virtio;

/// <summary>The device_status bits (VIRTIO 1.2 §2.1).</summary>
[Flags]
public enum VirtioStatus : byte
{
    /// <summary>Reset, or not yet seen by a driver.</summary>
    None = 0,
    /// <summary>The guest found the device.</summary>
    Acknowledge = 0x01,
    /// <summary>The guest knows how to drive it.</summary>
    Driver = 0x02,
    /// <summary>The driver is ready: the device may use its queues.</summary>
    DriverOk = 0x04,
    /// <summary>Feature negotiation is complete (cleared by the device when it refuses the features).</summary>
    FeaturesOk = 0x08,
    /// <summary>The device met an error it cannot recover from; the driver must reset it.</summary>
    DeviceNeedsReset = 0x40,
    /// <summary>The driver gave up on the device.</summary>
    Failed = 0x80,
}
