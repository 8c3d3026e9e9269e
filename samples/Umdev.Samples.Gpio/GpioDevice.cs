using System.Runtime.InteropServices;
using Umdev.Vfio;
using Umdev.Vfio.Pci;

namespace Umdev.Samples.Gpio;

/// <summary>
/// One bank of 32 GPIO pins behind BAR0 (32 bytes of 32-bit registers). A pin is an input unless its
/// DIRECTION bit is set; every change of DATA_IN sets the pin's IRQ_STATUS bit (write 1 to clear) and,
/// if IRQ_MASK enables it, interrupts by MSI or INTx. One lock serialises the registers.
/// </summary>
public sealed class GpioDevice : IVfioDeviceOps
{
    /// <summary>Register offsets in BAR0.</summary>
    public const int DataIn = 0x00, DataOut = 0x04, Direction = 0x08, IrqMask = 0x0c, IrqStatus = 0x10;
    public const int BarSize = 32;

    // Shared by every bank: each device owns only its copy of the bytes.
    private static readonly PciConfigLayout Config = new PciConfigSpaceBuilder()
        .Ids(0x1b36, 0x00f0)             // an id for the sample; a real card uses its vendor's
        .ClassCode(0x08, 0x80)           // base system peripheral, other
        .InterruptPin(1)
        .MemoryBar(0, BarSize)
        .Msi(vectors: 1)
        .Build();

    private readonly Lock _lock = new();
    private readonly VfioPciConfigRegion _config = new(Config);
    private readonly VfioInterrupts _irqs;
    private readonly uint[] _regs = new uint[BarSize / 4]; // little-endian host, as the guest sees them
    private uint _external;

    public GpioDevice()
    {
        Layout = new VfioDeviceLayout { Regions = [new VfioEmulatedRegion(VfioPci.Bar0RegionIndex, BarSize, ReadBar, WriteBar), _config] };
        _irqs = Layout.Interrupts; // INTx, MSI and REQ, from the config space
    }

    public string Name => "umdev-gpio";

    public VfioDeviceLayout Layout { get; }

    /// <summary>The outside world drives the input pins (a button, a test).</summary>
    public void SetInputs(uint levels)
    {
        lock (_lock)
        {
            _external = levels;
            Update();
        }
    }

    public void Reset()
    {
        lock (_lock)
        {
            Array.Clear(_regs);
            Reg(DataIn) = _external; // every pin an input again, no interrupt pending
            _irqs.Lower();
            _config.Reset();
        }
    }

    /// <summary>Any width at any offset: the model has checked that offset + length fits in BarSize.</summary>
    private void ReadBar(ulong offset, Span<byte> data)
    {
        lock (_lock) MemoryMarshal.AsBytes(_regs.AsSpan()).Slice((int)offset, data.Length).CopyTo(data);
    }

    /// <summary>Whole aligned 32-bit registers only; anything else is ignored, as many devices do.</summary>
    private void WriteBar(ulong offset, ReadOnlySpan<byte> data)
    {
        if (data.Length != 4 || offset % 4 != 0) return;
        uint value = MemoryMarshal.Read<uint>(data);
        lock (_lock)
        {
            switch ((int)offset)
            {
                case DataOut or Direction or IrqMask: Reg(offset) = value; break;
                case IrqStatus: Reg(IrqStatus) &= ~value; break; // write 1 to clear
            }
            Update();
        }
    }

    /// <summary>Recomputes DATA_IN (outputs read back what they drive) and the interrupt; under the lock.</summary>
    private void Update()
    {
        uint dataIn = (_external & ~Reg(Direction)) | (Reg(DataOut) & Reg(Direction));
        uint before = Reg(IrqStatus) & Reg(IrqMask);
        Reg(IrqStatus) |= dataIn ^ Reg(DataIn);
        Reg(DataIn) = dataIn;
        uint pending = Reg(IrqStatus) & Reg(IrqMask);
        if ((pending & ~before) != 0) _irqs.Raise(); // a newly pending pin: one MSI, or INTx asserted
        _irqs.SetLevel(pending != 0);                // INTx stays asserted until the guest clears IRQ_STATUS
    }

    private ref uint Reg(ulong offset) => ref _regs[offset / 4];
}
