using Umdev.Interop;

namespace Umdev.Vfio.Migration;

/// <summary>
/// The user's handle on a migration data session (the data fd MIG_DEVICE_STATE returns): a saving
/// stream is read-only, a resuming stream write-only, both sequential. Disposing the handle does not end
/// the session; the state machine does.
/// </summary>
public sealed class VfioMigrationDataFile : IDisposable
{
    private readonly VfioMigration _migration;
    private VfioMigrationStream? _stream;

    internal VfioMigrationDataFile(VfioMigration migration, VfioMigrationStream stream)
    {
        _migration = migration;
        _stream = stream;
    }

    private VfioMigrationStream Stream => _stream ?? ThrowHelper.Throw<VfioMigrationStream>(Errno.EBADF, "data file closed");

    public bool IsSaving => Stream is VfioMigrationSaveStream;

    /// <summary>read(): the next bytes of a saving stream, 0 at its end; EBADF on a resuming stream.</summary>
    public int Read(Span<byte> buffer) => Stream is VfioMigrationSaveStream saving
        ? saving.Read(buffer)
        : ThrowHelper.Throw<int>(Errno.EBADF, "resuming stream is write-only");

    /// <summary>write(): appends to a resuming stream; EBADF on a saving stream.</summary>
    public int Write(ReadOnlySpan<byte> data) => Stream is VfioMigrationResumeStream resuming
        ? resuming.Write(data)
        : ThrowHelper.Throw<int>(Errno.EBADF, "saving stream is read-only");

    /// <summary>pread(): the streams are not seekable (ESPIPE).</summary>
    public int ReadAt(Span<byte> buffer, long offset)
    {
        _ = Stream;
        return ThrowHelper.Throw<int>(Errno.ESPIPE, "migration streams are sequential");
    }

    /// <summary>pwrite(): ESPIPE.</summary>
    public int WriteAt(ReadOnlySpan<byte> data, long offset)
    {
        _ = Stream;
        return ThrowHelper.Throw<int>(Errno.ESPIPE, "migration streams are sequential");
    }

    /// <summary>VFIO_MIG_GET_PRECOPY_INFO; ENOTTY on a resuming stream (it has no ioctls).</summary>
    public VfioPrecopyInfo GetPrecopyInfo(uint argsz = VfioPrecopyInfo.MinArgsz) => Stream is VfioMigrationSaveStream saving
        ? _migration.GetPrecopyInfo(saving, argsz)
        : ThrowHelper.Throw<VfioPrecopyInfo>(Errno.ENOTTY, "no ioctls on a resuming stream");

    public void Dispose() => _stream = null;
}
