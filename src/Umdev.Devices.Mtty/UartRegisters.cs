namespace Umdev.Devices.Mtty;

/// <summary>16550A register offsets and bits (linux/serial_reg.h) that mtty uses.</summary>
internal static class UartRegisters
{
    public const int Rx = 0, Tx = 0, Dll = 0;
    public const int Ier = 1, Dlm = 1;
    public const int Iir = 2, Fcr = 2;
    public const int Lcr = 3;
    public const int Mcr = 4;
    public const int Lsr = 5;
    public const int Msr = 6;
    public const int Scr = 7;
    public const int Count = 8;

    public const byte IerRdi = 0x01, IerThri = 0x02, IerRlsi = 0x04, IerMsi = 0x08;
    public const byte IirNoInt = 0x01, IirThri = 0x02, IirRdi = 0x04, IirRlsi = 0x06, IirMsi = 0x00, IirFifoBits = 0xC0;
    public const byte FcrEnableFifo = 0x01, FcrClearRcvr = 0x02, FcrClearXmit = 0x04, FcrTriggerMask = 0xC0;
    public const byte LcrDlab = 0x80;
    public const byte McrDtr = 0x01, McrRts = 0x02, McrOut2 = 0x08, McrAfe = 0x20;
    public const byte LsrDr = 0x01, LsrOe = 0x02, LsrThre = 0x20, LsrTemt = 0x40;
    public const byte MsrDcts = 0x01, MsrDdsr = 0x02, MsrCts = 0x10, MsrDsr = 0x20, MsrDcd = 0x80;
}
