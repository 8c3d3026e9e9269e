namespace Umdev.Vfio.Pci;

/// <summary>Offsets and bits of the type-0 configuration header, as a device builds it.</summary>
public static class PciHeader
{
    public const int VendorId = 0x00;
    public const int DeviceId = 0x02;
    public const int Command = 0x04;
    public const int Status = 0x06;
    public const int Revision = 0x08;
    public const int ProgIf = 0x09;
    public const int Subclass = 0x0a;
    public const int ClassCode = 0x0b;
    public const int CacheLineSize = 0x0c;
    public const int LatencyTimer = 0x0d;
    public const int HeaderType = 0x0e;
    public const int Bar0 = 0x10;
    public const int BarCount = 6;
    public const int SubsystemVendorId = 0x2c;
    public const int SubsystemId = 0x2e;
    public const int RomAddress = 0x30;
    public const int CapabilityPointer = 0x34;
    public const int InterruptLine = 0x3c;
    public const int InterruptPin = 0x3d;

    /// <summary>Where capabilities may start: the first byte after the header.</summary>
    public const int CapabilitiesStart = 0x40;

    public const ushort CommandIo = 0x0001;
    public const ushort CommandMemory = 0x0002;
    public const ushort CommandBusMaster = 0x0004;
    public const ushort CommandParity = 0x0040;
    public const ushort CommandSerr = 0x0100;
    public const ushort CommandInterruptDisable = 0x0400;

    public const ushort StatusInterrupt = 0x0008;
    public const ushort StatusCapabilityList = 0x0010;

    /// <summary>The error bits of the status register, which software clears by writing 1 (bits 8 and 11-15).</summary>
    public const ushort StatusErrorBits = 0xf900;

    public const uint BarIoSpace = 0x1;
    public const uint BarMemory64 = 0x4;
    public const uint BarPrefetchable = 0x8;

    /// <summary>The offset of BAR <paramref name="index"/> (0-5).</summary>
    public static int BarOffset(int index) => Bar0 + 4 * index;
}
