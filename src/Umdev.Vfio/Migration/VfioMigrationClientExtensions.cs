namespace Umdev.Vfio.Migration;

/// <summary>Stream helpers over <see cref="IVfioMigrationClient"/>, whatever carries it.</summary>
public static class VfioMigrationClientExtensions
{
    /// <summary>
    /// Reads the current saving session until it has no more data now: a read shorter than asked (vfio-user's
    /// MIG_DATA_READ rule; a kernel data fd returns what is available, then 0). The whole stream ends up in
    /// one array: for small streams; <see cref="CopyMigrationStream"/> moves any size in bounded memory.
    /// </summary>
    public static byte[] ReadMigrationStream(this IVfioMigrationClient device, int chunk = 64 * 1024)
    {
        var output = new MemoryStream();
        var buffer = new byte[chunk];
        int n;
        do
        {
            n = device.ReadMigrationData(buffer);
            output.Write(buffer, 0, n);
        }
        while (n == buffer.Length);
        return output.ToArray();
    }

    /// <summary>Writes all of <paramref name="stream"/> into the current resuming session.</summary>
    public static void WriteMigrationStream(this IVfioMigrationClient device, ReadOnlySpan<byte> stream)
    {
        while (!stream.IsEmpty)
        {
            int n = device.WriteMigrationData(stream);
            if (n <= 0) Interop.ThrowHelper.Throw(Interop.Errno.EIO, "resuming stream took no data");
            stream = stream[n..];
        }
    }

    /// <summary>
    /// Moves what <paramref name="source"/>'s saving session has now (up to a short read) into
    /// <paramref name="destination"/>'s resuming session, one <paramref name="buffer"/> at a time. Returns the
    /// bytes moved.
    /// </summary>
    public static ulong CopyMigrationStream(this IVfioMigrationClient source, IVfioMigrationClient destination, Span<byte> buffer)
    {
        if (buffer.IsEmpty) throw new ArgumentException("empty buffer", nameof(buffer));
        ulong total = 0;
        int n;
        do
        {
            n = source.ReadMigrationData(buffer);
            destination.WriteMigrationStream(buffer[..n]);
            total += (ulong)n;
        }
        while (n == buffer.Length);
        return total;
    }
}
