using Umdev.Vfio;

namespace Umdev.VfioUser.Tests;

/// <summary>
/// What a client can see of mtty port 0 (BAR0). Programmed as: LCR 8E1 with DLAB clear, IER, SCR, bytes into
/// the FIFO through THR, then DLAB set and the divisor written (DLL/DLM) — left with DLAB set so the divisor
/// can be read back without the LCR write that would clear it (mtty.md §8.2). Shared with the CLI tests.
/// </summary>
public sealed record UartState(byte Lcr, byte Ier, byte Scr, ushort Divisor, byte Lsr, string Fifo)
{
    private const uint Bar0 = 0, Data = 0, Ier_ = 1, Lcr_ = 3, Lsr_ = 5, Scr_ = 7;

    public static void Program(IVfioClientDevice d, ushort divisor, byte ier, byte scr, string fifo)
    {
        Write(d, Lcr_, 0x1B);
        Write(d, Ier_, ier);
        Write(d, Scr_, scr);
        foreach (char c in fifo) Write(d, Data, (byte)c);
        Write(d, Lcr_, 0x9B);
        Write(d, Data, (byte)divisor);
        Write(d, Ier_, (byte)(divisor >> 8));
    }

    /// <summary>Reads everything back (draining the FIFO; leaves DLAB clear).</summary>
    public static UartState Observe(IVfioClientDevice d)
    {
        byte lcr = Read(d, Lcr_);
        ushort divisor = (ushort)(Read(d, Data) | Read(d, Ier_) << 8);
        Write(d, Lcr_, (byte)(lcr & 0x7F)); // clears DLAB only; the divisor stays
        byte ier = Read(d, Ier_), scr = Read(d, Scr_), lsr = Read(d, Lsr_);
        var fifo = new System.Text.StringBuilder();
        while ((Read(d, Lsr_) & 0x01) != 0) fifo.Append((char)Read(d, Data));
        return new UartState(lcr, ier, scr, divisor, lsr, fifo.ToString());
    }

    public static byte Read(IVfioClientDevice d, uint offset)
    {
        Span<byte> b = stackalloc byte[1];
        d.ReadRegion(Bar0, offset, b);
        return b[0];
    }

    public static void Write(IVfioClientDevice d, uint offset, byte value) => d.WriteRegion(Bar0, offset, [value]);
}
