using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.VfioUser.Protocol;

namespace Umdev.VfioUser.Server;

/// <summary>DEVICE_FEATURE and the migration data messages, carried to the VFIO model's feature dispatch.</summary>
public sealed partial class VfioUserSession
{
    /// <summary>
    /// DEVICE_FEATURE: argsz is the largest reply payload the client accepts; the feature data is handed to
    /// the model (the kernel's dispatch rules, ENOTTY on a device without migration) and the reply carries
    /// argsz = 8 + the bytes the feature returned. The model's data session is not passed as a descriptor:
    /// over vfio-user the stream travels in MIG_DATA_READ/MIG_DATA_WRITE.
    /// </summary>
    private int DeviceFeature(ReadOnlySpan<byte> p, Span<byte> reply)
    {
        var f = DeviceFeaturePayload.Parse(p);
        if (f.Argsz < DeviceFeaturePayload.Length) ThrowHelper.Throw(Errno.EINVAL, "DEVICE_FEATURE argsz too small");
        long room = Math.Max(f.Data.Length, (long)f.Argsz - DeviceFeaturePayload.Length);
        if (room > reply.Length - DeviceFeaturePayload.Length) ThrowHelper.Throw(Errno.E2BIG, "DEVICE_FEATURE argsz too large");
        var data = reply.Slice(DeviceFeaturePayload.Length, (int)room);
        data.Clear();
        f.Data.CopyTo(data);
        int n = File.DeviceFeature(f.Flags, data, out var dataFile);
        dataFile?.Dispose();
        BinaryPrimitives.WriteUInt32LittleEndian(reply, (uint)(DeviceFeaturePayload.Length + n));
        BinaryPrimitives.WriteUInt32LittleEndian(reply[4..], f.Flags);
        return DeviceFeaturePayload.Length + n;
    }

    /// <summary>MIG_DATA_READ: argsz, size; reply argsz, size (bytes returned, fewer = no more now), data.</summary>
    private int MigDataRead(ReadOnlySpan<byte> p, Span<byte> reply)
    {
        var r = Info8.Parse(p, "MIG_DATA_READ");
        if (r.Size > _options.MaxDataXferSize) ThrowHelper.Throw(Errno.E2BIG, "MIG_DATA_READ size above max_data_xfer_size");
        int n = File.ReadMigrationData(reply.Slice(8, (int)r.Size));
        BinaryPrimitives.WriteUInt32LittleEndian(reply, (uint)(8 + n));
        BinaryPrimitives.WriteUInt32LittleEndian(reply[4..], (uint)n);
        return 8 + n;
    }

    /// <summary>MIG_DATA_WRITE: argsz, size, data; no reply payload.</summary>
    private int MigDataWrite(ReadOnlySpan<byte> p)
    {
        var r = Info8.Parse(p, "MIG_DATA_WRITE");
        if ((ulong)(p.Length - 8) != r.Size) ThrowHelper.Throw(Errno.EINVAL, "MIG_DATA_WRITE size differs from its data");
        var data = p[8..];
        while (!data.IsEmpty)
        {
            int n = File.WriteMigrationData(data);
            if (n <= 0) ThrowHelper.Throw(Errno.EIO, "migration stream took no data");
            data = data[n..];
        }
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
