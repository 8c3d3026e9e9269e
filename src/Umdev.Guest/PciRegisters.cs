namespace Umdev.Guest;

/// <summary>Offsets and bits of the PCI type-0 configuration header.</summary>
public static class PciRegisters
{
    public const int VendorId = 0x00;
    public const int DeviceId = 0x02;
    public const int Command = 0x04;
    public const int Status = 0x06;
    public const int Revision = 0x08;
    public const int ProgIf = 0x09;
    public const int Subclass = 0x0a;
    public const int ClassCode = 0x0b;
    public const int HeaderType = 0x0e;
    public const int Bar0 = 0x10;
    public const int BarCount = 6;
    public const int SubsystemVendorId = 0x2c;
    public const int SubsystemId = 0x2e;
    public const int RomAddress = 0x30;
    public const int CapabilityPointer = 0x34;
    public const int InterruptLine = 0x3c;
    public const int InterruptPin = 0x3d;

    public const ushort CommandIo = 0x1;
    public const ushort CommandMemory = 0x2;
    public const ushort CommandBusMaster = 0x4;

    public const ushort StatusCapabilityList = 0x10;

    public const uint BarIoSpace = 0x1;
    public const uint BarIoAddressMask = 0xfffffffc;
    public const uint BarMemAddressMask = 0xfffffff0;
    public const uint BarMemTypeMask = 0x6;
    public const uint BarMemType64 = 0x4;
    public const uint BarMemType1M = 0x2;
    public const uint BarPrefetchable = 0x8;

    public const byte CapabilityIdMsi = 0x05;
    public const byte CapabilityIdVendor = 0x09;
    public const byte CapabilityIdMsiX = 0x11;
}
