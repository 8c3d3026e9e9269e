using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio.Migration;
using Umdev.VfioUser.Protocol;

namespace Umdev.VfioUser.Client;

/// <summary>
/// Migration v2 over vfio-user: DEVICE_FEATURE for the features, MIG_DATA_READ/MIG_DATA_WRITE for the
/// stream. There is no data descriptor: <see cref="SetDeviceState"/> always returns null and the session is
/// read and written through <see cref="ReadMigrationData"/> / <see cref="WriteMigrationData"/>. vfio-user
/// has no precopy-info message (<see cref="GetPrecopyInfo"/> fails with ENOTTY); a precopy reader reads
/// until a short read instead. MIG_DATA_SIZE (feature 9) is not in the vfio-user feature list; umdev's
/// server answers it, another server may refuse it.
/// </summary>
public sealed partial class VfioUserClient : IVfioMigrationClient
{
    public VfioMigrationFlags GetMigrationFlags()
    {
        Span<byte> d = stackalloc byte[8];
        Feature(VfioDeviceFeature.Get | VfioDeviceFeature.Migration, d, 8);
        return (VfioMigrationFlags)BinaryPrimitives.ReadUInt64LittleEndian(d);
    }

    public VfioMigrationState GetDeviceState()
    {
        Span<byte> d = stackalloc byte[8];
        Feature(VfioDeviceFeature.Get | VfioDeviceFeature.MigDeviceState, d, 4);
        return (VfioMigrationState)BinaryPrimitives.ReadUInt32LittleEndian(d);
    }

    /// <summary>MIG_DEVICE_STATE SET; the transition is complete when the reply arrives. Always null (no data fd).</summary>
    public VfioMigrationDataFile? SetDeviceState(VfioMigrationState state)
    {
        Span<byte> d = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(d, (uint)state);
        BinaryPrimitives.WriteInt32LittleEndian(d[4..], -1);
        Feature(VfioDeviceFeature.Set | VfioDeviceFeature.MigDeviceState, d, 0);
        return null;
    }

    public ulong GetMigrationDataSize()
    {
        Span<byte> d = stackalloc byte[8];
        Feature(VfioDeviceFeature.Get | VfioDeviceFeature.MigDataSize, d, 8);
        return BinaryPrimitives.ReadUInt64LittleEndian(d);
    }

    public VfioPrecopyInfo GetPrecopyInfo() =>
        ThrowHelper.Throw<VfioPrecopyInfo>(Errno.ENOTTY, "vfio-user has no precopy-info message");

    /// <summary>
    /// MIG_DATA_READs of at most the transfer size both sides accept, until <paramref name="buffer"/> is full or
    /// the server returns fewer bytes than asked (no more data now). Looping keeps that rule true for the
    /// caller when its buffer is larger than one transfer.
    /// </summary>
    public int ReadMigrationData(Span<byte> buffer)
    {
        lock (_lock)
        {
            int done = 0;
            while (done < buffer.Length)
            {
                int n = Math.Min(buffer.Length - done, TransferChunk);
                BinaryPrimitives.WriteUInt32LittleEndian(Payload, (uint)(8 + n));
                BinaryPrimitives.WriteUInt32LittleEndian(Payload[4..], (uint)n);
                var reply = Transact(VfioUserCommand.MigDataRead, 8, default);
                if (reply.Length < 8) ThrowHelper.Throw(Errno.EPROTO, "MIG_DATA_READ reply too short");
                uint size = BinaryPrimitives.ReadUInt32LittleEndian(reply[4..]);
                if (size > (uint)n || size > (uint)(reply.Length - 8)) ThrowHelper.Throw(Errno.EPROTO, "MIG_DATA_READ reply size does not match");
                reply.Slice(8, (int)size).CopyTo(buffer[done..]);
                done += (int)size;
                if (size < (uint)n) break;
            }
            return done;
        }
    }

    /// <summary>MIG_DATA_WRITE of all of <paramref name="data"/>, in chunks of the transfer size.</summary>
    public int WriteMigrationData(ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            int done = 0;
            do
            {
                int n = Math.Min(data.Length - done, TransferChunk);
                BinaryPrimitives.WriteUInt32LittleEndian(Payload, 8);
                BinaryPrimitives.WriteUInt32LittleEndian(Payload[4..], (uint)n);
                data.Slice(done, n).CopyTo(Payload[8..]);
                Transact(VfioUserCommand.MigDataWrite, 8 + n, default);
                done += n;
            }
            while (done < data.Length);
            return done;
        }
    }

    public ulong StartDmaLogging(ulong pageSize, ReadOnlySpan<VfioDmaLoggingRange> ranges)
    {
        if (ranges.Length > VfioMigration.MaxLoggingRanges) ThrowHelper.Throw(Errno.E2BIG, "too many logging ranges");
        Span<byte> d = stackalloc byte[16 + 16 * ranges.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(d, pageSize);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], (uint)ranges.Length);
        for (int i = 0; i < ranges.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(d[(16 + 16 * i)..], ranges[i].Iova);
            BinaryPrimitives.WriteUInt64LittleEndian(d[(24 + 16 * i)..], ranges[i].Length);
        }
        Feature(VfioDeviceFeature.Set | VfioDeviceFeature.DmaLoggingStart, d, 8);
        return BinaryPrimitives.ReadUInt64LittleEndian(d);
    }

    public void StopDmaLogging() => Feature(VfioDeviceFeature.Set | VfioDeviceFeature.DmaLoggingStop, default, 0);

    public void ReportDmaLogging(ulong iova, ulong length, ulong pageSize, Span<byte> bitmap)
    {
        if (bitmap.Length > TransferChunk) ThrowHelper.Throw(Errno.E2BIG, "bitmap larger than a transfer");
        var d = new byte[24 + bitmap.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(d, iova);
        BinaryPrimitives.WriteUInt64LittleEndian(d.AsSpan(8), length);
        BinaryPrimitives.WriteUInt64LittleEndian(d.AsSpan(16), pageSize);
        Feature(VfioDeviceFeature.Get | VfioDeviceFeature.DmaLoggingReport, d, 24);
        // Bits are only ever set in the caller's bitmap, as the kernel does.
        for (int i = 0; i < bitmap.Length; i++) bitmap[i] |= d[24 + i];
    }

    /// <summary>
    /// DEVICE_FEATURE: sends <paramref name="data"/> after argsz (8 + its length) and flags, copies the reply
    /// data back over it and returns how many bytes the reply carried.
    /// </summary>
    public int DeviceFeature(uint flags, Span<byte> data, out VfioMigrationDataFile? dataFile)
    {
        dataFile = null;
        lock (_lock)
        {
            if (data.Length > TransferChunk) ThrowHelper.Throw(Errno.E2BIG, "feature data larger than a transfer");
            BinaryPrimitives.WriteUInt32LittleEndian(Payload, (uint)(DeviceFeaturePayload.Length + data.Length));
            BinaryPrimitives.WriteUInt32LittleEndian(Payload[4..], flags);
            data.CopyTo(Payload[DeviceFeaturePayload.Length..]);
            var reply = DeviceFeaturePayload.Parse(Transact(VfioUserCommand.DeviceFeature, DeviceFeaturePayload.Length + data.Length, default));
            int n = Math.Min(reply.Data.Length, data.Length);
            reply.Data[..n].CopyTo(data);
            return reply.Data.Length;
        }
    }

    private void Feature(uint flags, Span<byte> data, int minReply)
    {
        if (DeviceFeature(flags, data, out _) < minReply) ThrowHelper.Throw(Errno.EPROTO, $"DEVICE_FEATURE {flags & VfioDeviceFeature.IndexMask}: short reply");
    }

    private int TransferChunk => (int)Math.Min(ServerCapabilities.MaxDataXferSize, MaxDataXferSize);
}
