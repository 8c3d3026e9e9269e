using Umdev.Interop;

namespace Umdev.Guest;

/// <summary>
/// Sends a message out of each port and collects what comes back, driven only by interrupts on the
/// shared INTx line, one handler pass per interrupt as Linux's serial8250_handle_irq does: read IIR;
/// drain RX while LSR.DR; on THR empty write up to 16 bytes, and stop THRI once nothing is left.
/// </summary>
public sealed class SerialLoopback
{
    private readonly IntxLine _intx;
    private readonly List<Transfer> _transfers = [];

    public SerialLoopback(IntxLine intx) => _intx = intx;

    /// <summary>Handler passes that found no port with an interrupt pending.</summary>
    public int SpuriousInterrupts { get; private set; }

    public void Add(Serial8250Port port, byte[] message) => _transfers.Add(new Transfer(port, message));

    /// <summary>Runs until every message is back; ETIMEDOUT if the line stays quiet for <paramref name="quietTimeoutMs"/>.</summary>
    public IReadOnlyDictionary<Serial8250Port, byte[]> Run(int quietTimeoutMs = 5000)
    {
        foreach (var t in _transfers) t.Port.Out(Uart.Ier, Uart.IerRdi | Uart.IerThri | Uart.IerRlsi);
        while (_transfers.Any(t => t.Received.Count < t.Message.Length))
        {
            if (!_intx.Wait(quietTimeoutMs))
            {
                var waiting = string.Join(", ", _transfers.Select(t => $"{t.Port.Name} {t.Received.Count}/{t.Message.Length}"));
                ThrowHelper.Throw(Errno.ETIMEDOUT, $"no interrupt for {quietTimeoutMs} ms ({waiting})");
            }
            bool handled = false;
            foreach (var t in _transfers) handled |= Service(t);
            if (!handled) SpuriousInterrupts++;
            _intx.Unmask();
        }
        return _transfers.ToDictionary(t => t.Port, t => t.Received.ToArray());
    }

    private static bool Service(Transfer t)
    {
        var port = t.Port;
        byte iir = port.In(Uart.Iir);
        if ((iir & Uart.IirNoInt) != 0) return false;
        byte lsr = port.In(Uart.Lsr);
        if ((lsr & Uart.LsrDr) != 0)
        {
            for (int guard = 0; guard < 256 && (port.In(Uart.Lsr) & Uart.LsrDr) != 0; guard++)
                t.Received.Add(port.In(Uart.Rx));
            lsr = port.In(Uart.Lsr);
        }
        if ((lsr & Uart.LsrThre) != 0 && (port.In(Uart.Ier) & Uart.IerThri) != 0)
        {
            int n = Math.Min(Uart.FifoSize, t.Message.Length - t.Sent);
            for (int i = 0; i < n; i++) port.Out(Uart.Tx, t.Message[t.Sent++]);
            if (t.Sent == t.Message.Length) port.Out(Uart.Ier, Uart.IerRdi | Uart.IerRlsi);
        }
        return true;
    }

    private sealed class Transfer(Serial8250Port port, byte[] message)
    {
        public Serial8250Port Port { get; } = port;
        public byte[] Message { get; } = message;
        public int Sent { get; set; }
        public List<byte> Received { get; } = [];
    }
}
