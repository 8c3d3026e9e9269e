using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.Vfio.Migration;
using Umdev.VfioUser.Protocol;

namespace Umdev.VfioUser.Server;

/// <summary>DEVICE_FEATURE and the migration data messages, carried to the VFIO model's feature dispatch.</summary>
public sealed partial class VfioUserSession
{
    /// <summary>
    /// DEVICE_FEATURE: argsz is the largest reply payload the client accepts; the feature data is handed to
    /// the model (the kernel's dispatch rules, ENOTTY on a device without migration). A GET reply carries
    /// argsz = 8 + the bytes the feature returned; a SET or PROBE reply is the request as the model left it
    /// (vfio-user: "the same as the request"; DMA_LOGGING_START's page size may have changed). The model's
    /// data session is not passed as a descriptor: over vfio-user the stream travels in
    /// MIG_DATA_READ/MIG_DATA_WRITE. DMA_LOGGING_START with no ranges means "log everything" in vfio-user
    /// (the kernel refuses it): it becomes one range over the whole page-aligned IOVA space.
    /// </summary>
    private int DeviceFeature(ReadOnlySpan<byte> p, Span<byte> reply)
    {
        var f = DeviceFeaturePayload.Parse(p);
        if (f.Argsz < DeviceFeaturePayload.Length) ThrowHelper.Throw(Errno.EINVAL, "DEVICE_FEATURE argsz too small");
        long room = Math.Max(f.Data.Length, (long)f.Argsz - DeviceFeaturePayload.Length);
        bool logAll = (f.Flags & (VfioDeviceFeature.IndexMask | VfioDeviceFeature.Set | VfioDeviceFeature.Probe))
            == (VfioDeviceFeature.DmaLoggingStart | VfioDeviceFeature.Set)
            && f.Data.Length >= 16 && BinaryPrimitives.ReadUInt32LittleEndian(f.Data[8..]) == 0;
        if (logAll) room = Math.Max(room, 32);
        if (room > reply.Length - DeviceFeaturePayload.Length) ThrowHelper.Throw(Errno.E2BIG, "DEVICE_FEATURE argsz too large");
        var data = reply.Slice(DeviceFeaturePayload.Length, (int)room);
        data.Clear();
        f.Data.CopyTo(data);
        if (logAll)
        {
            ulong pageSize = BinaryPrimitives.ReadUInt64LittleEndian(data);
            if (pageSize == 0 || (pageSize & (pageSize - 1)) != 0) ThrowHelper.Throw(Errno.EINVAL, "logging page size not a power of two");
            BinaryPrimitives.WriteUInt32LittleEndian(data[8..], 1);
            BinaryPrimitives.WriteUInt64LittleEndian(data[16..], 0);
            BinaryPrimitives.WriteUInt64LittleEndian(data[24..], 0 - pageSize);
        }
        int n = File.DeviceFeature(f.Flags, data, out var dataFile);
        dataFile?.Dispose();
        if (logAll) BinaryPrimitives.WriteUInt32LittleEndian(data[8..], 0);
        if ((f.Flags & VfioDeviceFeature.Get) == 0 || (f.Flags & VfioDeviceFeature.Probe) != 0) n = f.Data.Length;
        BinaryPrimitives.WriteUInt32LittleEndian(reply, (uint)(DeviceFeaturePayload.Length + n));
        BinaryPrimitives.WriteUInt32LittleEndian(reply[4..], f.Flags);
        return DeviceFeaturePayload.Length + n;
    }

    /// <summary>MIG_DATA_READ: argsz, size; reply argsz, size (bytes returned, fewer = no more now), data.</summary>
    private int MigDataRead(ReadOnlySpan<byte> p, Span<byte> reply)
    {
        var r = Info8.Parse(p, "MIG_DATA_READ");
        if (r.Size > _options.MaxDataXferSize) ThrowHelper.Throw(Errno.E2BIG, "MIG_DATA_READ size above max_data_xfer_size");
        if (r.Argsz < 8) ThrowHelper.Throw(Errno.EINVAL, "MIG_DATA_READ argsz below the reply header");
        // argsz bounds the reply payload: never return more data than it leaves room for.
        int n = File.ReadMigrationData(reply.Slice(8, (int)Math.Min(r.Size, r.Argsz - 8)));
        BinaryPrimitives.WriteUInt32LittleEndian(reply, (uint)(8 + n));
        BinaryPrimitives.WriteUInt32LittleEndian(reply[4..], (uint)n);
        return 8 + n;
    }

    /// <summary>MIG_DATA_WRITE: argsz, size, data; no reply payload.</summary>
    private int MigDataWrite(ReadOnlySpan<byte> p)
    {
        var r = Info8.Parse(p, "MIG_DATA_WRITE");
        if ((ulong)(p.Length - 8) != r.Size) ThrowHelper.Throw(Errno.EINVAL, "MIG_DATA_WRITE size differs from its data");
        File.WriteMigrationStream(p[8..]);
        return 0;
    }

    private readonly ref struct Info8
    {
        public uint Argsz { get; init; }
        public uint Size { get; init; }

        public static Info8 Parse(ReadOnlySpan<byte> p, string what)
        {
            if (p.Length < 8) ThrowHelper.Throw(Errno.EINVAL, $"{what}: payload too short");
            return new Info8 { Argsz = BinaryPrimitives.ReadUInt32LittleEndian(p), Size = BinaryPrimitives.ReadUInt32LittleEndian(p[4..]) };
        }
    }
}
