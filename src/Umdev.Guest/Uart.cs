namespace Umdev.Guest;

/// <summary>16550 register offsets and bits (include/uapi/linux/serial_reg.h).</summary>
public static class Uart
{
    public const int Rx = 0;   // RBR (read, DLAB=0)
    public const int Tx = 0;   // THR (write, DLAB=0)
    public const int Dll = 0;  // divisor latch low (DLAB=1)
    public const int Ier = 1;
    public const int Dlm = 1;  // divisor latch high (DLAB=1)
    public const int Iir = 2;  // read
    public const int Fcr = 2;  // write
    public const int Lcr = 3;
    public const int Mcr = 4;
    public const int Lsr = 5;
    public const int Msr = 6;
    public const int Scr = 7;

    public const byte IerRdi = 0x01;
    public const byte IerThri = 0x02;
    public const byte IerRlsi = 0x04;
    public const byte IerMsi = 0x08;

    public const byte IirNoInt = 0x01;
    public const byte IirIdMask = 0x0e;
    public const byte IirFifoEnabledMask = 0xc0;

    public const byte FcrEnableFifo = 0x01;
    public const byte FcrClearRcvr = 0x02;
    public const byte FcrClearXmit = 0x04;

    public const byte LcrDlab = 0x80;
    public const byte LcrWlen8 = 0x03;

    public const byte McrDtr = 0x01;
    public const byte McrRts = 0x02;
    public const byte McrOut2 = 0x08;

    public const byte LsrDr = 0x01;
    public const byte LsrOe = 0x02;
    public const byte LsrThre = 0x20;
    public const byte LsrTemt = 0x40;

    /// <summary>The 16550A transmit FIFO depth: how many bytes a driver writes per THR-empty interrupt.</summary>
    public const int FifoSize = 16;
}
