using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.Virtio;

namespace Umdev.Devices.VirtioBlk;

/// <summary>
/// Requests (VIRTIO 1.2 §5.2.6): a 16-byte driver-readable header, data, and a final device-writable
/// status byte. A chain with no writable byte cannot be answered and is a driver error (the device needs
/// a reset); a missing or device-writable header, a length that is not whole sectors, sectors past the
/// capacity and writes to a read-only disk are answered IOERR; unknown types UNSUPP. The status byte and
/// an OUT's data are read or checked before the file is touched, so a buffer outside the client's
/// mappings stops the request with nothing written.
/// </summary>
internal sealed partial class VirtioBlkDevice
{
    protected override uint ProcessRequest(int queue, VirtqueueChain chain)
    {
        if (chain.WritableLength < 1) throw new VirtqueueException("virtio-blk request without a status byte");
        long statusAt = chain.WritableLength - 1;
        // IOERR first: a status byte outside the mappings stops the request before the disk is touched.
        WriteStatus(chain, statusAt, VirtioBlk.IoErr);
        uint written = 0;
        byte status = Serve(chain, statusAt, ref written);
        if (status != VirtioBlk.IoErr) WriteStatus(chain, statusAt, status);
        return written + 1;
    }

    private static void WriteStatus(VirtqueueChain chain, long at, byte status)
    {
        try
        {
            chain.WriteWritable(at, [status]);
        }
        catch (ErrnoException e)
        {
            throw new VirtqueueException($"virtio-blk status byte outside the client's mappings ({e.Message})", e);
        }
    }

    private byte Serve(VirtqueueChain chain, long dataIn, ref uint written)
    {
        // The header must be driver-readable: a chain whose first buffer the device writes has none.
        if (chain.ReadableLength < VirtioBlk.HeaderSize) return VirtioBlk.IoErr;
        Span<byte> header = stackalloc byte[VirtioBlk.HeaderSize];
        ReadDriverBytes(chain, 0, header);
        uint type = BinaryPrimitives.ReadUInt32LittleEndian(header);
        ulong sector = BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
        long dataOut = chain.ReadableLength - VirtioBlk.HeaderSize;
        var backing = Backing;
        switch (type)
        {
            case VirtioBlk.In:
                if (!CheckRange(backing, sector, dataIn)) return VirtioBlk.IoErr;
                byte st = Transfer(chain, backing!, sector, dataIn, toGuest: true);
                if (st == VirtioBlk.Ok) written = (uint)dataIn;
                return st;
            case VirtioBlk.Out:
                if (!CheckRange(backing, sector, dataOut) || backing!.ReadOnly) return VirtioBlk.IoErr;
                return Transfer(chain, backing, sector, dataOut, toGuest: false);
            case VirtioBlk.FlushRequest:
                if (backing is null) return VirtioBlk.IoErr;
                return Io(() => FileData.DataSync(backing.File));
            case VirtioBlk.GetId:
                int n = (int)Math.Min(dataIn, VirtioBlk.IdLength);
                WriteDriverBytes(chain, 0, _id.AsSpan(0, n));
                written = (uint)n;
                return VirtioBlk.Ok;
            case VirtioBlk.DiscardRequest:
            case VirtioBlk.WriteZeroesRequest:
                return Ranges(chain, backing, type, dataOut);
            default:
                return VirtioBlk.Unsupported;
        }
    }

    /// <summary>Whole sectors, inside the capacity (overflow-safe), at most 4 GiB minus the status byte.</summary>
    private static bool CheckRange(VirtioBlkBacking? backing, ulong sector, long bytes) =>
        backing is not null && bytes % VirtioBlkBacking.SectorSize == 0 && bytes < uint.MaxValue &&
        sector <= backing.Sectors && (ulong)bytes / VirtioBlkBacking.SectorSize <= backing.Sectors - sector;

    /// <summary>
    /// IN or OUT. Directly when the client's memory is mapped here: every piece of the data begun at once
    /// (<see cref="VfioDmaTable.BeginDirect"/>, so a piece outside the mappings stops the request before the
    /// file is touched) and one <c>preadv</c>/<c>pwritev</c> between the file and guest memory. Otherwise
    /// (memory reached by DMA_READ/DMA_WRITE) through a bounce buffer, <see cref="BounceSize"/> at a time.
    /// </summary>
    private byte Transfer(VirtqueueChain chain, VirtioBlkBacking backing, ulong sector, long length, bool toGuest)
    {
        if (length == 0) return VirtioBlk.Ok;
        long file = (long)sector * VirtioBlkBacking.SectorSize;
        var v = _vector ??= new Vector(QueueSize);
        int count = 0;
        foreach (var piece in chain.Pieces(toGuest, toGuest ? 0 : VirtioBlk.HeaderSize, length))
        {
            v.Ranges[count] = new VfioDmaRange(piece.Address, piece.Length);
            v.Lengths[count++] = piece.Length;
        }
        VfioDmaScope? scope;
        try
        {
            scope = chain.Dma.BeginDirect(v.Ranges.AsSpan(0, count), toGuest ? VfioDmaDirection.FromDevice : VfioDmaDirection.ToDevice, v.Pointers);
        }
        catch (ErrnoException e)
        {
            throw new VirtqueueException($"virtio-blk data buffer outside the client's mappings ({e.Message})", e);
        }
        if (scope is null) return Bounce(chain, backing, file, length, toGuest);
        using (scope)
        {
            try
            {
                FileData.TransferVector(backing.File, v.Pointers.AsSpan(0, count), v.Lengths.AsSpan(0, count), file, write: !toGuest);
                return VirtioBlk.Ok;
            }
            catch (ErrnoException)
            {
                return VirtioBlk.IoErr;
            }
        }
    }

    /// <summary>The queue thread's vector of data pieces (a chain has at most a queue's worth of buffers).</summary>
    private sealed class Vector(int capacity)
    {
        public readonly VfioDmaRange[] Ranges = new VfioDmaRange[capacity];
        public readonly nint[] Pointers = new nint[capacity];
        public readonly int[] Lengths = new int[capacity];
    }

    /// <summary>
    /// IN or OUT through a bounce buffer, <see cref="BounceSize"/> at a time, for memory only reachable by
    /// copies. An OUT gathers before it writes, so a buffer outside the client's mappings stops it with
    /// nothing written (a larger request is written a piece at a time, each gathered first).
    /// </summary>
    private byte Bounce(VirtqueueChain chain, VirtioBlkBacking backing, long file, long length, bool toGuest)
    {
        var bounce = _bounce ??= GC.AllocateUninitializedArray<byte>(BounceSize);
        for (long done = 0; done < length;)
        {
            var chunk = bounce.AsSpan(0, (int)Math.Min(BounceSize, length - done));
            try
            {
                if (toGuest)
                {
                    ReadFile(backing, chunk, file + done);
                    chain.WriteWritable(done, chunk);
                }
                else
                {
                    chain.ReadReadable(VirtioBlk.HeaderSize + done, chunk);
                    RandomAccess.Write(backing.File, chunk, file + done);
                }
            }
            catch (ErrnoException e)
            {
                throw new VirtqueueException($"virtio-blk data buffer outside the client's mappings ({e.Message})", e);
            }
            catch (IOException)
            {
                return VirtioBlk.IoErr;
            }
            done += chunk.Length;
        }
        return VirtioBlk.Ok;
    }

    /// <summary>Fills <paramref name="span"/> from the file; what lies past its end (the file shrank under the disk) reads as zeros.</summary>
    private static void ReadFile(VirtioBlkBacking backing, Span<byte> span, long file)
    {
        while (!span.IsEmpty)
        {
            int n = RandomAccess.Read(backing.File, span, file);
            if (n == 0)
            {
                span.Clear();
                break;
            }
            span = span[n..];
            file += n;
        }
    }

    /// <summary>DISCARD and WRITE_ZEROES: one range segment (max_*_seg = 1), inside the capacity.</summary>
    private static byte Ranges(VirtqueueChain chain, VirtioBlkBacking? backing, uint type, long length)
    {
        if (backing is null || backing.ReadOnly || length != VirtioBlk.RangeSegmentSize) return VirtioBlk.IoErr;
        Span<byte> segment = stackalloc byte[VirtioBlk.RangeSegmentSize];
        ReadDriverBytes(chain, VirtioBlk.HeaderSize, segment);
        ulong sector = BinaryPrimitives.ReadUInt64LittleEndian(segment);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(segment[8..]);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(segment[12..]);
        if (count > VirtioBlk.MaxRangeSectors || (flags & ~VirtioBlk.RangeUnmap) != 0 ||
            (type == VirtioBlk.DiscardRequest && flags != 0) || !CheckRange(backing, sector, (long)count * VirtioBlkBacking.SectorSize))
            return VirtioBlk.IoErr;
        long offset = (long)sector * VirtioBlkBacking.SectorSize, bytes = (long)count * VirtioBlkBacking.SectorSize;
        if (bytes == 0) return VirtioBlk.Ok;
        if (type == VirtioBlk.DiscardRequest || (flags & VirtioBlk.RangeUnmap) != 0)
            return Io(() => FileData.PunchHole(backing.File, offset, bytes), () => WriteZeros(backing, offset, bytes));
        return Io(() => FileData.ZeroRange(backing.File, offset, bytes), () => WriteZeros(backing, offset, bytes));
    }

    /// <summary>Where the file system cannot punch or zero ranges (a block device, some file systems): write zeros.</summary>
    private static void WriteZeros(VirtioBlkBacking backing, long offset, long bytes)
    {
        var zeros = new byte[(int)Math.Min(bytes, 1 << 20)];
        for (long done = 0; done < bytes; done += zeros.Length)
            RandomAccess.Write(backing.File, zeros.AsSpan(0, (int)Math.Min(zeros.Length, bytes - done)), offset + done);
    }

    private static byte Io(Action action, Action? fallback = null)
    {
        try
        {
            action();
            return VirtioBlk.Ok;
        }
        catch (ErrnoException e) when (fallback is not null && e.Errno is Errno.EOPNOTSUPP or Errno.EINVAL or Errno.ENODEV)
        {
            return Io(fallback);
        }
        catch (Exception e) when (e is ErrnoException or IOException)
        {
            return VirtioBlk.IoErr;
        }
    }

    private static void ReadDriverBytes(VirtqueueChain chain, long offset, Span<byte> destination)
    {
        try
        {
            chain.ReadReadable(offset, destination);
        }
        catch (ErrnoException e)
        {
            throw new VirtqueueException($"virtio-blk request outside the client's mappings ({e.Message})", e);
        }
    }

    private static void WriteDriverBytes(VirtqueueChain chain, long offset, ReadOnlySpan<byte> source)
    {
        try
        {
            chain.WriteWritable(offset, source);
        }
        catch (ErrnoException e)
        {
            throw new VirtqueueException($"virtio-blk reply outside the client's mappings ({e.Message})", e);
        }
    }
}
