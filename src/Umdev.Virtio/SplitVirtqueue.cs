using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.Virtio;

/// <summary>
/// One split virtqueue (VIRTIO 1.2 §2.7): the registers the driver programs through common
/// configuration, and the device's side of the rings — taking chains from the available ring,
/// returning them on the used ring, and deciding when each side must notify the other (with or
/// without EVENT_IDX). Rings and buffers are reached only through the client's DMA mappings; any
/// violation of the ring rules is a <see cref="VirtqueueException"/>.
/// </summary>
internal sealed class SplitVirtqueue
{
    private const ushort DescNext = 1, DescWrite = 2, DescIndirect = 4;
    private const ushort AvailNoInterrupt = 1, UsedNoNotify = 1;
    private const int DescSize = 16;

    private ushort _lastAvail;
    private ushort _used;
    private VirtqueueChain? _chain;

    /// <summary>Queue <paramref name="index"/>, at most <paramref name="maxSize"/> entries (a power of two).</summary>
    public SplitVirtqueue(int index, ushort maxSize)
    {
        if (maxSize == 0 || !BitOperations.IsPow2((uint)maxSize) || maxSize > 32768)
            throw new ArgumentOutOfRangeException(nameof(maxSize), maxSize, "a queue size is a power of two up to 32768");
        Index = index;
        MaxSize = maxSize;
        Reset();
    }

    /// <summary>The queue's index.</summary>
    public int Index { get; }

    /// <summary>The largest size the device offers (what queue_size reads before the driver writes it).</summary>
    public ushort MaxSize { get; }

    /// <summary>queue_size.</summary>
    public ushort Size { get; set; }

    /// <summary>queue_enable.</summary>
    public bool Enabled { get; set; }

    /// <summary>queue_msix_vector (0xffff: none).</summary>
    public ushort MsixVector { get; set; }

    /// <summary>queue_desc: the descriptor table's guest address.</summary>
    public ulong DescAddress { get; set; }

    /// <summary>queue_driver: the available ring's guest address.</summary>
    public ulong DriverAddress { get; set; }

    /// <summary>queue_device: the used ring's guest address.</summary>
    public ulong DeviceAddress { get; set; }

    /// <summary>The next available-ring position the device will take.</summary>
    public ushort LastAvailIndex { get => _lastAvail; set => _lastAvail = value; }

    /// <summary>The device's used index (what it last published in used.idx).</summary>
    public ushort UsedIndex { get => _used; set => _used = value; }

    /// <summary>VIRTIO_F_RING_EVENT_IDX was negotiated.</summary>
    public bool EventIdx { get; set; }

    /// <summary>VIRTIO_F_RING_INDIRECT_DESC was negotiated.</summary>
    public bool IndirectDesc { get; set; }

    /// <summary>Power-on values.</summary>
    public void Reset()
    {
        Size = MaxSize;
        Enabled = false;
        MsixVector = VirtioPciFunction.NoVector;
        DescAddress = DriverAddress = DeviceAddress = 0;
        _lastAvail = _used = 0;
        EventIdx = IndirectDesc = false;
    }

    /// <summary>
    /// Whether the programmed ring can be used: a power-of-two size up to the maximum and rings aligned
    /// as §2.7 requires (descriptors 16, available ring 2, used ring 4 bytes), none wrapping the address space.
    /// </summary>
    public string? Validate()
    {
        if (Size == 0 || Size > MaxSize || !BitOperations.IsPow2((uint)Size)) return $"queue {Index}: size {Size} is not a power of two up to {MaxSize}";
        if (DescAddress % 16 != 0 || DriverAddress % 2 != 0 || DeviceAddress % 4 != 0)
            return $"queue {Index}: unaligned ring (desc 0x{DescAddress:x}, driver 0x{DriverAddress:x}, device 0x{DeviceAddress:x})";
        if (Wraps(DescAddress, (ulong)Size * DescSize) || Wraps(DriverAddress, 6 + 2UL * Size) || Wraps(DeviceAddress, 6 + 8UL * Size))
            return $"queue {Index}: a ring wraps the address space";
        return null;
    }

    internal static bool Wraps(ulong address, ulong length) => address + (length - 1) < address;

    /// <summary>
    /// Takes the next available chain, or returns null when the ring is empty. Throws
    /// <see cref="VirtqueueException"/> for a ring the driver broke (nothing is consumed then).
    /// </summary>
    public VirtqueueChain? Pop(VfioDmaTable dma)
    {
        try
        {
            ushort availIdx = ReadU16(dma, DriverAddress + 2);
            if (availIdx == _lastAvail) return null;
            if ((ushort)(availIdx - _lastAvail) > Size)
                throw new VirtqueueException($"queue {Index}: avail.idx {availIdx} is more than {Size} ahead of {_lastAvail}");
            Interlocked.MemoryBarrier(); // read the ring entry only after seeing the index that publishes it
            ushort head = ReadU16(dma, DriverAddress + 4 + 2UL * (ulong)(_lastAvail & (Size - 1)));
            var chain = _chain is { } c && c.Capacity == Size ? c : _chain = new VirtqueueChain(Size);
            Walk(dma, chain, head);
            _lastAvail++;
            return chain;
        }
        catch (ErrnoException e)
        {
            throw new VirtqueueException($"queue {Index}: ring outside the client's mappings ({e.Message})", e);
        }
    }

    private void Walk(VfioDmaTable dma, VirtqueueChain chain, ushort head)
    {
        if (head >= Size) throw new VirtqueueException($"queue {Index}: head index {head} ≥ queue size {Size}");
        chain.Start(dma, head);
        Span<byte> d = stackalloc byte[DescSize];
        ushort i = head;
        for (int seen = 0; ; seen++)
        {
            if (seen == Size) throw new VirtqueueException($"queue {Index}: descriptor chain from {head} loops or exceeds {Size}");
            dma.Read(DescAddress + (ulong)i * DescSize, d);
            var (addr, len, flags, next) = Parse(d);
            if ((flags & DescIndirect) != 0)
            {
                if (!IndirectDesc) throw new VirtqueueException($"queue {Index}: indirect descriptor without VIRTIO_F_RING_INDIRECT_DESC");
                if ((flags & DescNext) != 0) throw new VirtqueueException($"queue {Index}: indirect descriptor with NEXT");
                WalkIndirect(dma, chain, addr, len);
                return;
            }
            chain.Add(addr, len, (flags & DescWrite) != 0);
            if ((flags & DescNext) == 0) return;
            if (next >= Size) throw new VirtqueueException($"queue {Index}: next index {next} ≥ queue size {Size}");
            i = next;
        }
    }

    /// <summary>An indirect table: a whole number of descriptors, at most a queue's worth, none indirect again, chained inside the table.</summary>
    private void WalkIndirect(VfioDmaTable dma, VirtqueueChain chain, ulong table, uint length)
    {
        if (length == 0 || length % DescSize != 0 || length / DescSize > Size)
            throw new VirtqueueException($"queue {Index}: indirect table of {length} bytes");
        if (Wraps(table, length)) throw new VirtqueueException($"queue {Index}: indirect table wraps");
        uint entries = length / DescSize;
        // One copy for the whole table: on the stack for the usual sizes, rented for a large queue's.
        byte[]? rented = length > 4096 ? ArrayPool<byte>.Shared.Rent((int)length) : null;
        Span<byte> tableBytes = (rented is null ? stackalloc byte[4096] : rented)[..(int)length];
        try
        {
            dma.Read(table, tableBytes);
            uint i = 0;
            for (uint seen = 0; ; seen++)
            {
                if (seen == entries) throw new VirtqueueException($"queue {Index}: indirect chain loops");
                var (addr, len, flags, next) = Parse(tableBytes.Slice((int)(i * DescSize), DescSize));
                if ((flags & DescIndirect) != 0) throw new VirtqueueException($"queue {Index}: nested indirect descriptor");
                chain.Add(addr, len, (flags & DescWrite) != 0);
                if ((flags & DescNext) == 0) return;
                if (next >= entries) throw new VirtqueueException($"queue {Index}: indirect next {next} ≥ table size {entries}");
                i = next;
            }
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static (ulong Addr, uint Len, ushort Flags, ushort Next) Parse(ReadOnlySpan<byte> d) =>
        (BinaryPrimitives.ReadUInt64LittleEndian(d), BinaryPrimitives.ReadUInt32LittleEndian(d[8..]),
         BinaryPrimitives.ReadUInt16LittleEndian(d[12..]), BinaryPrimitives.ReadUInt16LittleEndian(d[14..]));

    /// <summary>
    /// Returns a chain on the used ring with the bytes the device wrote into it, and says whether the
    /// driver wants an interrupt for it (avail.flags NO_INTERRUPT, or used_event with EVENT_IDX).
    /// </summary>
    public bool Push(VfioDmaTable dma, ushort head, uint written)
    {
        try
        {
            Span<byte> elem = stackalloc byte[8];
            BinaryPrimitives.WriteUInt32LittleEndian(elem, head);
            BinaryPrimitives.WriteUInt32LittleEndian(elem[4..], written);
            dma.Write(DeviceAddress + 4 + 8UL * (ulong)(_used & (Size - 1)), elem);
            ushort old = _used++;
            Interlocked.MemoryBarrier(); // the element is visible before the index that publishes it
            WriteU16(dma, DeviceAddress + 2, _used);
            Interlocked.MemoryBarrier(); // publish used.idx before reading what the driver asked for
            if (EventIdx)
            {
                ushort usedEvent = ReadU16(dma, DriverAddress + 4 + 2UL * Size);
                return (ushort)(_used - usedEvent - 1) < (ushort)(_used - old);
            }
            return (ReadU16(dma, DriverAddress) & AvailNoInterrupt) == 0;
        }
        catch (ErrnoException e)
        {
            throw new VirtqueueException($"queue {Index}: used ring outside the client's mappings ({e.Message})", e);
        }
    }

    /// <summary>
    /// Tells the driver whether to notify (doorbell writes) for new buffers: off while the device is
    /// busy taking them anyway, on before it sleeps. With EVENT_IDX "on" means avail_event = the next
    /// position the device will look at. After turning them on, check the ring again (<see cref="HasAvailable"/>).
    /// </summary>
    public void SetNotifications(VfioDmaTable dma, bool enabled)
    {
        try
        {
            if (EventIdx)
            {
                if (enabled) WriteU16(dma, DeviceAddress + 4 + 8UL * Size, _lastAvail);
            }
            else WriteU16(dma, DeviceAddress, enabled ? (ushort)0 : UsedNoNotify);
            Interlocked.MemoryBarrier(); // the driver must see the flag before the device looks at the ring again
        }
        catch (ErrnoException e)
        {
            throw new VirtqueueException($"queue {Index}: used ring outside the client's mappings ({e.Message})", e);
        }
    }

    /// <summary>Whether the driver made buffers available that the device has not taken.</summary>
    public bool HasAvailable(VfioDmaTable dma)
    {
        try
        {
            return ReadU16(dma, DriverAddress + 2) != _lastAvail;
        }
        catch (ErrnoException e)
        {
            throw new VirtqueueException($"queue {Index}: available ring outside the client's mappings ({e.Message})", e);
        }
    }

    private static ushort ReadU16(VfioDmaTable dma, ulong address)
    {
        Span<byte> b = stackalloc byte[2];
        dma.Read(address, b);
        return BinaryPrimitives.ReadUInt16LittleEndian(b);
    }

    private static void WriteU16(VfioDmaTable dma, ulong address, ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, value);
        dma.Write(address, b);
    }
}
