using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.Guest;

/// <summary>
/// One UART as Linux's 8250 driver drives it through 8250_pci: port <c>n</c> lives in BAR <c>n</c>
/// (board pbn_b0_bt_2_115200), registers are byte-wide I/O ports.
/// </summary>
public sealed class Serial8250Port(IVfioClientDevice device, int line, PciBar bar, byte irq)
{
    public const int BaseBaud = 115200;

    /// <summary>The tty name, e.g. <c>ttyS1</c>.</summary>
    public string Name { get; } = $"ttyS{line}";
    public PciBar Bar { get; } = bar;
    public byte Irq { get; } = irq;

    /// <summary>The UART type found by <see cref="Probe"/>.</summary>
    public string Type { get; private set; } = "unknown";

    public byte In(int register)
    {
        Span<byte> b = stackalloc byte[1];
        if (device.ReadRegion((uint)Bar.Index, (ulong)register, b) != 1)
            ThrowHelper.Throw(Errno.EIO, $"{Name}: short read of register {register}");
        return b[0];
    }

    public void Out(int register, byte value)
    {
        if (device.WriteRegion((uint)Bar.Index, (ulong)register, [value]) != 1)
            ThrowHelper.Throw(Errno.EIO, $"{Name}: short write of register {register}");
    }

    /// <summary>
    /// Identifies the UART as the 8250 core's autoconfig does: a working scratch register, then the
    /// FIFO bits of IIR once FIFOs are enabled (both set = 16550A).
    /// </summary>
    public string Probe()
    {
        Out(Uart.Scr, 0xa5);
        bool scratch = In(Uart.Scr) == 0xa5;
        Out(Uart.Scr, 0x5a);
        scratch &= In(Uart.Scr) == 0x5a;
        Out(Uart.Fcr, Uart.FcrEnableFifo);
        int fifoBits = In(Uart.Iir) >> 6;
        Type = !scratch ? "8250" : fifoBits switch
        {
            3 => "16550A",
            2 => "16550",
            _ => "16450",
        };
        return Type;
    }

    /// <summary>The 8250 startup and set_termios sequence: divisor, 8N1, FIFOs cleared and on, OUT2, RX interrupts.</summary>
    public void Startup(int baud = 9600)
    {
        ushort divisor = (ushort)(BaseBaud / baud);
        Out(Uart.Lcr, Uart.LcrDlab);
        Out(Uart.Dll, (byte)divisor);
        Out(Uart.Dlm, (byte)(divisor >> 8));
        Out(Uart.Lcr, Uart.LcrWlen8);
        Out(Uart.Fcr, Uart.FcrEnableFifo | Uart.FcrClearRcvr | Uart.FcrClearXmit);
        Out(Uart.Mcr, Uart.McrDtr | Uart.McrRts | Uart.McrOut2);
        Out(Uart.Ier, Uart.IerRdi | Uart.IerRlsi);
        // Reading LSR, RX, IIR and MSR once clears stale state on real hardware.
        In(Uart.Lsr);
        In(Uart.Iir);
        In(Uart.Msr);
    }

    public void Shutdown()
    {
        Out(Uart.Ier, 0);
        Out(Uart.Mcr, 0);
        Out(Uart.Fcr, Uart.FcrClearRcvr | Uart.FcrClearXmit);
    }

    public override string ToString() => $"{Name} at I/O 0x{Bar.Address:x4} (irq = {Irq}) is a {Type}";
}
