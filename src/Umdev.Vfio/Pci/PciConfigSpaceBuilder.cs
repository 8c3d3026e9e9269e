using System.Buffers.Binary;
using System.Numerics;

namespace Umdev.Vfio.Pci;

/// <summary>
/// Declares a type-0 configuration space: header fields, BARs, capabilities and how guest writes
/// change each field. Unless told otherwise every byte is read-only; the interrupt line, the BAR
/// address bits, the usual command bits and the status error bits (write 1 to clear) follow the PCI
/// specification. Mistakes in the declaration throw <see cref="ArgumentException"/> at once or at
/// <see cref="Build"/>.
/// </summary>
public sealed partial class PciConfigSpaceBuilder
{
    private readonly byte[] _bytes;
    private readonly byte[] _writable;
    private readonly byte[] _clear;
    private readonly List<(int Offset, int Width, PciFieldRule Rule)> _rules = [];
    private readonly List<PciConfigLayout.HookRange> _hooks = [];
    private readonly List<PciBarDefinition> _bars = [];
    private readonly List<(int Offset, int Length)> _claimed = [];
    private ushort _command;
    private ushort? _commandWritable;
    private ushort _status;
    private ushort _statusClear = PciHeader.StatusErrorBits;

    /// <param name="size">256 for conventional PCI, 4096 for PCI Express (bytes past 255 read as 0).</param>
    public PciConfigSpaceBuilder(int size = PciConfigSpace.ConventionalSize)
    {
        if (size is not (PciConfigSpace.ConventionalSize or PciConfigSpace.ExtendedSize))
            throw new ArgumentOutOfRangeException(nameof(size), size, "config space is 256 or 4096 bytes");
        _bytes = new byte[size];
        _writable = new byte[size];
        _clear = new byte[size];
    }

    /// <summary>Vendor and device ID (read-only).</summary>
    public PciConfigSpaceBuilder Ids(ushort vendorId, ushort deviceId)
    {
        Put16(PciHeader.VendorId, vendorId);
        Put16(PciHeader.DeviceId, deviceId);
        return this;
    }

    /// <summary>Revision ID (read-only).</summary>
    public PciConfigSpaceBuilder Revision(byte revision)
    {
        _bytes[PciHeader.Revision] = revision;
        return this;
    }

    /// <summary>Class code: base class, subclass and programming interface (read-only).</summary>
    public PciConfigSpaceBuilder ClassCode(byte baseClass, byte subclass, byte progIf = 0)
    {
        _bytes[PciHeader.ClassCode] = baseClass;
        _bytes[PciHeader.Subclass] = subclass;
        _bytes[PciHeader.ProgIf] = progIf;
        return this;
    }

    /// <summary>Subsystem vendor and subsystem ID (read-only).</summary>
    public PciConfigSpaceBuilder Subsystem(ushort vendorId, ushort subsystemId)
    {
        Put16(PciHeader.SubsystemVendorId, vendorId);
        Put16(PciHeader.SubsystemId, subsystemId);
        return this;
    }

    /// <summary>
    /// The command register at reset, and the bits a guest may change (by default: I/O and memory
    /// decoding for the BARs declared, bus master, parity, SERR and INTx disable).
    /// </summary>
    public PciConfigSpaceBuilder Command(ushort value, ushort? writable = null)
    {
        _command = value;
        _commandWritable = writable;
        return this;
    }

    /// <summary>
    /// The status register at reset and the bits a guest clears by writing 1 (by default the error
    /// bits). The capability-list bit is set by <see cref="Build"/> when there are capabilities.
    /// </summary>
    public PciConfigSpaceBuilder Status(ushort value, ushort writeOneToClear = PciHeader.StatusErrorBits)
    {
        _status = value;
        _statusClear = writeOneToClear;
        return this;
    }

    /// <summary>The interrupt pin, 1-4 for INTA#-INTD# (0: none). The interrupt line is always writable.</summary>
    public PciConfigSpaceBuilder InterruptPin(byte pin)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pin, (byte)4);
        _bytes[PciHeader.InterruptPin] = pin;
        return this;
    }

    /// <summary>An I/O BAR of 4 to 256 bytes (a power of two).</summary>
    public PciConfigSpaceBuilder IoBar(int index, uint size)
    {
        if (size is < 4 or > 256 || !BitOperations.IsPow2(size))
            throw new ArgumentOutOfRangeException(nameof(size), size, "an I/O BAR is a power of two from 4 to 256 bytes");
        return AddBar(new PciBarDefinition(index, PciBarKind.Io, size));
    }

    /// <summary>A memory BAR; a 64-bit one also takes slot <paramref name="index"/> + 1.</summary>
    public PciConfigSpaceBuilder MemoryBar(int index, ulong size, bool is64Bit = false, bool prefetchable = false)
    {
        ulong max = is64Bit ? 1UL << 63 : 1UL << 31;
        if (size < 16 || size > max || !BitOperations.IsPow2(size))
            throw new ArgumentOutOfRangeException(nameof(size), size, $"a memory BAR is a power of two from 16 bytes to 0x{max:x}");
        return AddBar(new PciBarDefinition(index, is64Bit ? PciBarKind.Memory64 : PciBarKind.Memory32, size, prefetchable));
    }

    /// <summary>Device bytes that guests cannot change (vendor data, strings).</summary>
    public PciConfigSpaceBuilder Bytes(int offset, ReadOnlySpan<byte> bytes)
    {
        CheckRange(offset, bytes.Length);
        if (offset < PciHeader.CapabilitiesStart)
            throw new ArgumentOutOfRangeException(nameof(offset), "header fields have their own methods");
        Claim(offset, bytes.Length, "device bytes");
        bytes.CopyTo(_bytes.AsSpan(offset));
        return this;
    }

    /// <summary>Sets how guest writes change a field of 1 to 8 bytes; applied after every default.</summary>
    public PciConfigSpaceBuilder Rule(int offset, int width, PciFieldRule rule)
    {
        if (width is < 1 or > 8) throw new ArgumentOutOfRangeException(nameof(width), width, "a field is 1 to 8 bytes");
        CheckRange(offset, width);
        _rules.Add((offset, width, rule));
        return this;
    }

    /// <summary>Hands guest writes to <paramref name="length"/> bytes at <paramref name="offset"/> to a driver's hook instead of the rules.</summary>
    public PciConfigSpaceBuilder Hook(int offset, int length, PciConfigWriteHook hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        if (length < 1) throw new ArgumentOutOfRangeException(nameof(length), length, "a hook covers at least one byte");
        CheckRange(offset, length);
        foreach (var h in _hooks)
            if (offset < h.End && h.Start < offset + length)
                throw new ArgumentException($"hook at 0x{offset:x} overlaps the hook at 0x{h.Start:x}");
        _hooks.Add(new PciConfigLayout.HookRange(offset, length, hook));
        return this;
    }

    /// <summary>The finished layout; the builder can go on to declare a variant.</summary>
    public PciConfigLayout Build()
    {
        var bytes = (byte[])_bytes.Clone();
        var writable = (byte[])_writable.Clone();
        var clear = (byte[])_clear.Clone();
        var capabilities = LinkCapabilities(bytes);
        ValidateMsiX();

        ushort status = (ushort)(_status | (capabilities.Count > 0 ? PciHeader.StatusCapabilityList : 0));
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(PciHeader.Command), _command);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(PciHeader.Status), status);
        SetRule(writable, clear, PciHeader.Command, 2, PciFieldRule.ReadWrite(_commandWritable ?? DefaultCommandWritable()));
        SetRule(writable, clear, PciHeader.Status, 2, PciFieldRule.ClearOnWriteOne(_statusClear));
        SetRule(writable, clear, PciHeader.InterruptLine, 1, PciFieldRule.ReadWrite());
        foreach (var (offset, width, rule) in _rules) SetRule(writable, clear, offset, width, rule);

        var hooks = _hooks.OrderBy(h => h.Start).ToArray();
        var bars = _bars.OrderBy(b => b.Index).ToArray();
        return new PciConfigLayout(bytes, writable, clear, hooks, bars, capabilities);
    }

    private PciConfigSpaceBuilder AddBar(PciBarDefinition bar)
    {
        int last = bar.Is64Bit ? bar.Index + 1 : bar.Index;
        if (bar.Index < 0 || last >= PciHeader.BarCount)
            throw new ArgumentOutOfRangeException(nameof(bar.Index), bar.Index, bar.Is64Bit ? "a 64-bit BAR starts at slot 0-4" : "BARs are 0-5");
        foreach (var b in _bars)
        {
            int bLast = b.Is64Bit ? b.Index + 1 : b.Index;
            if (bar.Index <= bLast && b.Index <= last) throw new ArgumentException($"BAR {bar.Index} overlaps BAR {b.Index}");
        }
        _bars.Add(bar);
        int at = PciHeader.BarOffset(bar.Index);
        ulong addressMask = ~(bar.Size - 1) & ~(ulong)(bar.IsIo ? 0x3 : 0xf);
        BinaryPrimitives.WriteUInt32LittleEndian(_bytes.AsSpan(at), bar.TypeBits);
        BinaryPrimitives.WriteUInt32LittleEndian(_writable.AsSpan(at), (uint)addressMask);
        if (bar.Is64Bit) BinaryPrimitives.WriteUInt32LittleEndian(_writable.AsSpan(at + 4), (uint)(addressMask >> 32));
        return this;
    }

    private ushort DefaultCommandWritable()
    {
        ushort bits = PciHeader.CommandBusMaster | PciHeader.CommandParity | PciHeader.CommandSerr | PciHeader.CommandInterruptDisable;
        if (_bars.Any(b => b.IsIo)) bits |= PciHeader.CommandIo;
        if (_bars.Any(b => b.IsMemory)) bits |= PciHeader.CommandMemory;
        return bits;
    }

    private static void SetRule(byte[] writable, byte[] clear, int offset, int width, PciFieldRule rule)
    {
        for (int i = 0; i < width; i++)
        {
            writable[offset + i] = (byte)(rule.Writable >> (8 * i));
            clear[offset + i] = (byte)(rule.WriteOneToClear >> (8 * i));
        }
    }

    private void Put16(int offset, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(_bytes.AsSpan(offset), value);

    private void CheckRange(int offset, int length)
    {
        if (offset < 0 || length < 0 || offset > _bytes.Length - length)
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"{length} bytes at 0x{offset:x} do not fit in {_bytes.Length} bytes of config space");
    }

    /// <summary>Reserves bytes past the header for device data or a capability; overlapping reservations are refused.</summary>
    private void Claim(int offset, int length, string what)
    {
        foreach (var (o, l) in _claimed)
            if (offset < o + l && o < offset + length)
                throw new ArgumentException($"{what} at 0x{offset:x} ({length} bytes) overlaps bytes declared at 0x{o:x}");
        _claimed.Add((offset, length));
    }
}
