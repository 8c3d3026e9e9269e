using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.Virtio;

namespace Umdev.Devices.VirtioBlk;

/// <summary>
/// Requests (VIRTIO 1.2 §5.2.6): a 16-byte driver-readable header, data, and a final device-writable
/// status byte. A chain with no writable byte cannot be answered and is a driver error (the device needs
/// a reset); a missing or device-writable header, a length that is not whole sectors, sectors past the
/// capacity and writes to a read-only disk are answered IOERR; unknown types UNSUPP. Every data buffer
/// is pinned before the file is touched, so a buffer outside the client's mappings stops the request
/// with nothing read or written.
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
    /// IN or OUT: pins every piece of the data first (a piece outside the mappings is a driver error and
    /// nothing is transferred), then moves the bytes between guest memory and the file.
    /// </summary>
    private byte Transfer(VirtqueueChain chain, VirtioBlkBacking backing, ulong sector, long length, bool toGuest)
    {
        if (length == 0) return VirtioBlk.Ok;
        long offset = toGuest ? 0 : VirtioBlk.HeaderSize;
        var direction = toGuest ? VfioDmaDirection.FromDevice : VfioDmaDirection.ToDevice;
        try
        {
            try
            {
                foreach (var piece in chain.Pieces(toGuest, offset, length))
                    _pins.Add(chain.Dma.Pin(piece.Address, piece.Length, direction));
            }
            catch (ErrnoException e)
            {
                throw new VirtqueueException($"virtio-blk data buffer outside the client's mappings ({e.Message})", e);
            }
            long file = (long)sector * VirtioBlkBacking.SectorSize;
            foreach (var pin in _pins)
            {
                if (!TransferPin(backing, pin, file, toGuest)) return VirtioBlk.IoErr;
                file += pin.Length;
            }
            return VirtioBlk.Ok;
        }
        finally
        {
            // Disposing writes a copy-backed pin back to the client (DMA_WRITE); direct pins need nothing.
            foreach (var pin in _pins) pin.Dispose();
            _pins.Clear();
        }
    }

    private static bool TransferPin(VirtioBlkBacking backing, VfioDmaPin pin, long file, bool toGuest)
    {
        using var access = pin.Access();
        var span = access.Span;
        try
        {
            if (!toGuest)
            {
                RandomAccess.Write(backing.File, span, file);
                return true;
            }
            while (!span.IsEmpty)
            {
                int n = RandomAccess.Read(backing.File, span, file);
                if (n == 0)
                {
                    span.Clear(); // the file shrank under the disk: what is gone reads as zeros
                    break;
                }
                span = span[n..];
                file += n;
            }
            return true;
        }
        catch (IOException)
        {
            return false;
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
