using System.Buffers.Binary;
using Umdev.Interop;

namespace Umdev.Vfio.Migration;

/// <summary>
/// The kernel's VFIO_DEVICE_FEATURE dispatch (vfio_main.c) over a binary payload, for transports. The
/// payload layouts are the uAPI ones, except DMA_LOGGING_START and _REPORT, whose ranges and bitmap
/// travel inline after the fixed part (the vfio-user layout) instead of as user pointers.
/// </summary>
public static class VfioDeviceFeature
{
    public const uint IndexMask = 0xFFFF;
    public const uint Get = 0x10000;
    public const uint Set = 0x20000;
    public const uint Probe = 0x40000;

    public const uint Migration = 1;
    public const uint MigDeviceState = 2;
    public const uint DmaLoggingStart = 6;
    public const uint DmaLoggingStop = 7;
    public const uint DmaLoggingReport = 8;
    public const uint MigDataSize = 9;

    /// <summary>
    /// Handles one request; returns the payload bytes of the reply (0 for PROBE and SET without data
    /// back). Errors: EINVAL for unknown flag bits, GET with SET (without PROBE), an unsupported
    /// direction, neither direction, a short payload or an unknown feature; ENOTTY for migration and
    /// logging features on a device without migration.
    /// </summary>
    public static int Dispatch(IVfioMigrationClient device, bool supportsMigration, uint flags, Span<byte> data, out VfioMigrationDataFile? dataFile)
    {
        dataFile = null;
        if ((flags & ~(IndexMask | Get | Set | Probe)) != 0) ThrowHelper.Throw(Errno.EINVAL, "unknown feature flags");
        if ((flags & Probe) == 0 && (flags & Set) != 0 && (flags & Get) != 0) ThrowHelper.Throw(Errno.EINVAL, "GET and SET together");
        uint feature = flags & IndexMask;
        if (feature is Migration or MigDeviceState or MigDataSize or DmaLoggingStart or DmaLoggingStop or DmaLoggingReport && !supportsMigration)
            ThrowHelper.Throw(Errno.ENOTTY, "device has no migration support");
        switch (feature)
        {
            case Migration:
                if (!Check(flags, data, Get, 8)) return 0;
                BinaryPrimitives.WriteUInt64LittleEndian(data, (ulong)device.GetMigrationFlags());
                return 8;
            case MigDeviceState:
                if (!Check(flags, data, Get | Set, 8)) return 0;
                // data_fd is -1 whatever happens (also on a failed SET): in process the session is the returned object.
                BinaryPrimitives.WriteInt32LittleEndian(data[4..], -1);
                if ((flags & Get) != 0)
                    BinaryPrimitives.WriteUInt32LittleEndian(data, (uint)device.GetDeviceState());
                else
                    dataFile = device.SetDeviceState((VfioMigrationState)BinaryPrimitives.ReadUInt32LittleEndian(data));
                return 8;
            case MigDataSize:
                if (!Check(flags, data, Get, 8)) return 0;
                BinaryPrimitives.WriteUInt64LittleEndian(data, device.GetMigrationDataSize());
                return 8;
            case DmaLoggingStart:
            {
                if (!Check(flags, data, Set, 16)) return 0;
                ulong pageSize = BinaryPrimitives.ReadUInt64LittleEndian(data);
                uint count = BinaryPrimitives.ReadUInt32LittleEndian(data[8..]);
                if (count == 0) ThrowHelper.Throw(Errno.EINVAL, "no logging ranges");
                if (count > VfioMigration.MaxLoggingRanges) ThrowHelper.Throw(Errno.E2BIG, "too many logging ranges");
                if ((ulong)data.Length < 16 + 16UL * count) ThrowHelper.Throw(Errno.EINVAL, "logging ranges missing");
                var ranges = new VfioDmaLoggingRange[count];
                for (int i = 0; i < count; i++)
                {
                    var entry = data.Slice(16 + 16 * i, 16);
                    ranges[i] = new VfioDmaLoggingRange(BinaryPrimitives.ReadUInt64LittleEndian(entry), BinaryPrimitives.ReadUInt64LittleEndian(entry[8..]));
                }
                BinaryPrimitives.WriteUInt64LittleEndian(data, device.StartDmaLogging(pageSize, ranges));
                return 16;
            }
            case DmaLoggingStop:
                if (!Check(flags, data, Set, 0)) return 0;
                device.StopDmaLogging();
                return 0;
            case DmaLoggingReport:
                if (!Check(flags, data, Get, 24)) return 0;
                device.ReportDmaLogging(BinaryPrimitives.ReadUInt64LittleEndian(data), BinaryPrimitives.ReadUInt64LittleEndian(data[8..]),
                    BinaryPrimitives.ReadUInt64LittleEndian(data[16..]), data[24..]);
                return data.Length;
            default:
                return ThrowHelper.Throw<int>(Errno.EINVAL, $"unknown device feature {feature}");
        }
    }

    /// <summary>The kernel's vfio_check_feature: false for a PROBE that succeeded, true to go on.</summary>
    private static bool Check(uint flags, ReadOnlySpan<byte> data, uint supported, int minSize)
    {
        if ((flags & (Get | Set) & ~supported) != 0) ThrowHelper.Throw(Errno.EINVAL, "feature does not support that direction");
        if ((flags & Probe) != 0) return false;
        if ((flags & (Get | Set)) == 0) ThrowHelper.Throw(Errno.EINVAL, "neither GET nor SET");
        if (data.Length < minSize) ThrowHelper.Throw(Errno.EINVAL, "feature payload too short");
        return true;
    }
}
