using System.Buffers.Binary;
using static Umdev.Devices.Mtty.UartRegisters;

namespace Umdev.Devices.Mtty;

/// <summary>
/// One emulated 16550A-like UART with mtty's loopback FIFO: bytes written to THR come back from RBR.
/// Faithful to the kernel sample (mtty.md §8), including its quirks, except where noted. Not
/// thread-safe: the device lock serialises every access.
/// </summary>
internal sealed class MttyUartPort
{
    public const int FifoSize = 16;

    /// <summary>Size of a port record in the migration stream (the kernel's x86-64 <c>struct serial_port</c>).</summary>
    public const int RecordSize = 36;

    private readonly byte[] _regs = new byte[Count];
    private readonly byte[] _fifo = new byte[FifoSize];
    private byte _head, _tail, _count;
    private bool _dlab, _overrun;
    private ushort _divisor;
    private byte _fcr;
    private byte _maxFifoSize = FifoSize;
    private byte _triggerLevel;

    // Fix (mtty.md §13 note 3): the sample tests emptiness with head == tail, so after 16 pushes a full
    // FIFO reads as empty and its bytes are stuck. Emptiness is the byte count here; head/tail/count
    // keep the kernel's meaning, so migration streams stay compatible.
    private bool FifoEmpty => _count == 0;

    /// <summary>The IIR value (§8.5): ORed interrupt ids of the enabled pending conditions, or NO_INT.</summary>
    public byte IirValue
    {
        get
        {
            byte ier = _regs[Ier];
            byte iir = 0;
            if ((ier & IerRlsi) != 0 && _overrun) iir |= IirRlsi;
            if ((ier & IerRdi) != 0 && _count >= _triggerLevel) iir |= IirRdi;
            if ((ier & IerThri) != 0 && FifoEmpty) iir |= IirThri;
            if ((ier & IerMsi) != 0 && (_regs[Mcr] & (McrRts | McrDtr)) != 0) iir |= IirMsi;
            if (iir == 0) iir = IirNoInt;
            return (byte)(iir | IirFifoBits);
        }
    }

    /// <summary>True while an enabled condition is pending (what a level-triggered INTx line shows).</summary>
    public bool InterruptPending => (IirValue & IirNoInt) == 0;

    /// <summary>Reads the register at <paramref name="offset"/>; returns the interrupts the read raises.</summary>
    public int Read(uint offset, out byte value)
    {
        value = 0;
        switch ((int)offset)
        {
            case Rx:
                if (_dlab)
                {
                    value = (byte)_divisor;
                    return 0;
                }
                if (!FifoEmpty)
                {
                    value = _fifo[_tail];
                    _count--;
                    _tail = (byte)((_tail + 1) % FifoSize);
                }
                // Fires on reading an already empty FIFO too, as in the sample.
                return FifoEmpty && (_regs[Ier] & IerThri) != 0 ? 1 : 0;
            case Ier:
                value = _dlab ? (byte)(_divisor >> 8) : (byte)(_regs[Ier] & 0x0F);
                return 0;
            case Iir:
                value = IirValue;
                return 0;
            case Lcr or Mcr or Scr:
                value = _regs[offset];
                return 0;
            case Lsr:
                if (!FifoEmpty) value |= LsrDr;
                if (_overrun) value |= LsrOe;
                if (FifoEmpty) value |= LsrTemt | LsrThre;
                return 0;
            case Msr:
                value = MsrDsr | MsrDdsr | MsrDcd;
                if ((_regs[Mcr] & McrAfe) == 0 || _count < _maxFifoSize) value |= MsrCts | MsrDcts;
                return 0;
            default:
                return 0; // offsets past the 8 registers produce nothing (read as 0)
        }
    }

    /// <summary>Writes the register at <paramref name="offset"/>; returns the interrupts the write raises.</summary>
    public int Write(uint offset, byte value)
    {
        switch ((int)offset)
        {
            case Tx:
                if (_dlab)
                {
                    _divisor |= value;
                    return 0;
                }
                if (_count < _maxFifoSize)
                {
                    _fifo[_head] = value;
                    _count++;
                    _head = (byte)((_head + 1) % FifoSize);
                    _overrun = false;
                    return (_regs[Ier] & IerRdi) != 0 && _count == _triggerLevel ? 1 : 0;
                }
                _overrun = true;
                return (_regs[Ier] & IerRlsi) != 0 ? 1 : 0;
            case Ier:
                if (_dlab)
                {
                    _divisor |= (ushort)(value << 8);
                    return 0;
                }
                _regs[Ier] = value;
                return (value & IerThri) != 0 && FifoEmpty ? 1 : 0;
            case Fcr:
                _fcr = value;
                if ((value & (FcrClearRcvr | FcrClearXmit)) != 0) _count = _head = _tail = 0;
                // The sample decodes bits 7:6 (1/4/8/14) and then always uses 1.
                _triggerLevel = 1;
                _maxFifoSize = (value & FcrEnableFifo) != 0 ? (byte)FifoSize : (byte)1;
                return 0;
            case Lcr:
                _dlab = (value & LcrDlab) != 0;
                if (_dlab) _divisor = 0;
                _regs[Lcr] = value;
                return 0;
            case Mcr:
                _regs[Mcr] = value;
                int raised = 0;
                bool msiEnabled = (_regs[Ier] & IerMsi) != 0;
                if (msiEnabled && (value & McrOut2) != 0) raised++;
                if (msiEnabled && (value & (McrRts | McrDtr)) != 0) raised++;
                return raised;
            case Scr:
                _regs[Scr] = value;
                return 0;
            default:
                return 0; // LSR, MSR and offsets past the registers ignore writes
        }
    }

    /// <summary>Writes the port as the kernel's <c>struct serial_port</c> (x86-64 layout, padding 0).</summary>
    public void Save(Span<byte> record)
    {
        record[..RecordSize].Clear();
        _regs.CopyTo(record);
        _fifo.CopyTo(record[8..]);
        record[24] = _head;
        record[25] = _tail;
        record[26] = _count;
        record[27] = _dlab ? (byte)1 : (byte)0;
        record[28] = _overrun ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt16LittleEndian(record[30..], _divisor);
        record[32] = _fcr;
        record[33] = _maxFifoSize;
        record[34] = _triggerLevel;
    }

    /// <summary>
    /// Whether a record can be loaded without breaking the port's invariants. The sample copies it
    /// blindly, so a head or tail ≥ 16 would index past its FIFO; here such records are refused.
    /// Padding bytes are ignored (the kernel's may hold stale memory).
    /// </summary>
    public static bool IsValidRecord(ReadOnlySpan<byte> record)
    {
        byte head = record[24], tail = record[25], count = record[26];
        return head < FifoSize && tail < FifoSize && count <= FifoSize &&
               (head - tail + FifoSize) % FifoSize == count % FifoSize &&
               record[27] <= 1 && record[28] <= 1 &&
               record[33] is 1 or FifoSize;
    }

    /// <summary>Loads a record checked with <see cref="IsValidRecord"/>.</summary>
    public void Load(ReadOnlySpan<byte> record)
    {
        record[..8].CopyTo(_regs);
        record.Slice(8, FifoSize).CopyTo(_fifo);
        _head = record[24];
        _tail = record[25];
        _count = record[26];
        _dlab = record[27] != 0;
        _overrun = record[28] != 0;
        _divisor = BinaryPrimitives.ReadUInt16LittleEndian(record[30..]);
        _fcr = record[32];
        _maxFifoSize = record[33];
        _triggerLevel = record[34];
    }
}
