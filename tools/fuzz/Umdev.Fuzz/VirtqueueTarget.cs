using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.Virtio;

namespace Umdev.Fuzz;

/// <summary>
/// The split virtqueue's chain walker over guest memory made of the input. Bytes 0-7 program the queue:
/// [0] log2 of the size (low 3 bits, so 1-128), [1] flags (1 EVENT_IDX, 2 INDIRECT_DESC, 4 the upper half
/// of memory is a second, read-only mapping), [2..3] the device's last available index, [4..5] its used
/// index. The rest is guest memory at <see cref="Base"/> (zero-padded to 64 KiB): the descriptor table at
/// its start, the available ring right after it, the used ring after that (4-aligned). Every chain taken
/// has its readable bytes read and its writable bytes written, and is returned on the used ring.
/// Expected: <see cref="VirtqueueException"/> for a broken ring, ErrnoException for a buffer outside
/// the mappings. A failure: anything else, or a chain that breaks the walker's own promises.
/// </summary>
public sealed class VirtqueueTarget : IFuzzTarget
{
    public const ulong Base = 0x10000;
    private const int MemorySize = 64 * 1024, HeaderSize = 8, MaxSize = 256, MaxTransfer = 1 << 20;

    public void Run(byte[] input)
    {
        if (input.Length < HeaderSize) return;
        var q = new SplitVirtqueue(0, MaxSize)
        {
            Size = (ushort)(1 << (input[0] & 7)),
            EventIdx = (input[1] & 1) != 0,
            IndirectDesc = (input[1] & 2) != 0,
            LastAvailIndex = BinaryPrimitives.ReadUInt16LittleEndian(input.AsSpan(2)),
            UsedIndex = BinaryPrimitives.ReadUInt16LittleEndian(input.AsSpan(4)),
        };
        var (desc, avail, used) = Layout(q.Size);
        q.DescAddress = desc;
        q.DriverAddress = avail;
        q.DeviceAddress = used;
        if (q.Validate() is { } invalid) throw new FuzzFailure($"the target's own layout is refused: {invalid}");
        var memory = new byte[MemorySize];
        input.AsSpan(HeaderSize, Math.Min(input.Length - HeaderSize, MemorySize)).CopyTo(memory);
        var dma = new VfioDmaTable();
        if ((input[1] & 4) != 0)
        {
            dma.Map(Base, MemorySize / 2, VfioDmaProtection.Read | VfioDmaProtection.Write, new ArrayDmaMemory(memory, 0, MemorySize / 2));
            dma.Map(Base + MemorySize / 2, MemorySize / 2, VfioDmaProtection.Read, new ArrayDmaMemory(memory, MemorySize / 2, MemorySize / 2));
        }
        else dma.Map(Base, MemorySize, VfioDmaProtection.Read | VfioDmaProtection.Write, new ArrayDmaMemory(memory, 0, MemorySize));
        try
        {
            q.SetNotifications(dma, false);
            for (int i = 0; i < 2 * MaxSize; i++)
            {
                var chain = q.Pop(dma);
                if (chain is null) break;
                Check(chain, q.Size);
                q.Push(dma, chain.Head, Touch(chain));
            }
            q.SetNotifications(dma, true);
            q.HasAvailable(dma);
        }
        catch (VirtqueueException)
        {
            // A ring the driver broke: the device sets DEVICE_NEEDS_RESET.
        }
    }

    private static (ulong Desc, ulong Avail, ulong Used) Layout(ushort size)
    {
        ulong desc = Base, avail = desc + 16UL * size, used = (avail + 6 + 2UL * size + 3) & ~3UL;
        return (desc, avail, used);
    }

    /// <summary>What <see cref="VirtqueueChain"/> promises a device: ordered buffers, consistent totals, bounded length.</summary>
    private static void Check(VirtqueueChain chain, ushort size)
    {
        if (chain.Head >= size) throw new FuzzFailure($"head {chain.Head} ≥ size {size}");
        if (chain.Count > size) throw new FuzzFailure($"{chain.Count} buffers in a queue of {size}");
        long readable = 0, writable = 0;
        for (int i = 0; i < chain.Count; i++)
        {
            var b = chain[i];
            if (b.Writable != (i >= chain.FirstWritable)) throw new FuzzFailure($"buffer {i} on the wrong side of {chain.FirstWritable}");
            if (b.Length > 0 && b.Address + (b.Length - 1) < b.Address) throw new FuzzFailure($"buffer {i} wraps");
            if (b.Writable) writable += b.Length;
            else readable += b.Length;
        }
        if (readable != chain.ReadableLength || writable != chain.WritableLength)
            throw new FuzzFailure($"totals {chain.ReadableLength}/{chain.WritableLength}, buffers sum to {readable}/{writable}");
    }

    /// <summary>Reads the readable bytes and fills the writable ones as a device would; returns the bytes written.</summary>
    private static uint Touch(VirtqueueChain chain)
    {
        try
        {
            int read = (int)Math.Min(chain.ReadableLength, MaxTransfer);
            chain.ReadReadable(0, new byte[read]);
            int write = (int)Math.Min(chain.WritableLength, MaxTransfer);
            var fill = new byte[write];
            fill.AsSpan().Fill(0xA5);
            chain.WriteWritable(0, fill);
            long sum = 0;
            foreach (var piece in chain.Pieces(writable: true, 0, write))
            {
                if (piece.At != sum || piece.Length <= 0) throw new FuzzFailure($"piece at {piece.At} of {piece.Length} bytes after {sum}");
                sum += piece.Length;
            }
            if (sum != write) throw new FuzzFailure($"pieces cover {sum} of {write} bytes");
            return (uint)write;
        }
        catch (ErrnoException)
        {
            return 0; // a buffer outside the mappings: the device answers with an error status
        }
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        // One readable + one writable buffer; three chained; an indirect table; a loop (refused); EVENT_IDX with a full ring.
        yield return ("direct-2", Ring(3, 0, [[(0x8000, 64, false), (0x9000, 512, true)]]));
        yield return ("chain-3", Ring(4, 0, [[(0x8000, 16, false), (0x8100, 4096, false), (0xA000, 1, true)], [(0xB000, 100, true)]]));
        yield return ("indirect", Indirect());
        yield return ("loop", Loop());
        yield return ("event-idx", Ring(1, 1, [[(0x8000, 8, false)], [(0x8010, 8, true)]]));
        yield return ("split-ro", Ring(2, 4, [[(0x8000, 8, false), (0x8800, 8, true)]]));
    }

    private static byte[] Header(int log2, byte flags)
    {
        var h = new byte[HeaderSize + 0xC000];
        h[0] = (byte)log2;
        h[1] = flags;
        return h;
    }

    /// <summary>A ring with one chain per list (descriptors laid out consecutively, heads published in order).</summary>
    private static byte[] Ring(int log2, byte flags, (ulong Offset, uint Length, bool Writable)[][] chains)
    {
        var b = Header(log2, flags);
        var mem = b.AsSpan(HeaderSize);
        int size = 1 << log2, next = 0, heads = 0;
        var (desc, avail, _) = Layout((ushort)size);
        foreach (var chain in chains)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(mem[(int)(avail - Base + 4 + 2UL * (ulong)heads)..], (ushort)next);
            heads++;
            for (int i = 0; i < chain.Length; i++, next++)
            {
                var (offset, length, writable) = chain[i];
                var d = mem[(int)(desc - Base + 16UL * (ulong)next)..];
                BinaryPrimitives.WriteUInt64LittleEndian(d, Base + offset);
                BinaryPrimitives.WriteUInt32LittleEndian(d[8..], length);
                BinaryPrimitives.WriteUInt16LittleEndian(d[12..], (ushort)((i + 1 < chain.Length ? 1 : 0) | (writable ? 2 : 0)));
                BinaryPrimitives.WriteUInt16LittleEndian(d[14..], (ushort)(next + 1));
            }
        }
        BinaryPrimitives.WriteUInt16LittleEndian(mem[(int)(avail - Base + 2)..], (ushort)heads);
        return Trim(b);
    }

    private static byte[] Indirect()
    {
        // The table sits at 0x200, past the rings of a 4-entry queue.
        var b = Ring(2, 2, [[(0x200, 48, false)]]);
        b = [.. b, .. new byte[Math.Max(0, HeaderSize + 0x230 - b.Length)]];
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(HeaderSize + 12), 4); // INDIRECT
        var t = b.AsSpan(HeaderSize + 0x200);
        for (int i = 0; i < 3; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(t[(16 * i)..], Base + 0x8000 + (ulong)i * 0x100);
            BinaryPrimitives.WriteUInt32LittleEndian(t[(16 * i + 8)..], 32);
            BinaryPrimitives.WriteUInt16LittleEndian(t[(16 * i + 12)..], (ushort)((i < 2 ? 1 : 0) | (i == 2 ? 2 : 0)));
            BinaryPrimitives.WriteUInt16LittleEndian(t[(16 * i + 14)..], (ushort)(i + 1));
        }
        return Trim(b);
    }

    private static byte[] Loop()
    {
        var b = Ring(2, 0, [[(0x8000, 8, false), (0x8100, 8, false)]]);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(HeaderSize + 16 + 14), 0); // second points back at the first
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(HeaderSize + 16 + 12), 1);
        return b;
    }

    /// <summary>Trailing zeros are what the target pads with anyway: seeds stay small.</summary>
    private static byte[] Trim(byte[] b)
    {
        int end = b.Length;
        while (end > HeaderSize && b[end - 1] == 0) end--;
        return b[..end];
    }
}
