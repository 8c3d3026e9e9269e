using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.VfioUser.Display;

/// <summary>What a display socket shows: the plane and a read-only mapping of the snapshot holding it.</summary>
public sealed class VfioDisplayFrame : IDisposable
{
    private readonly MemoryMapping _mapping;

    internal VfioDisplayFrame(VfioGfxPlane plane, MemoryMapping mapping)
    {
        Plane = plane;
        _mapping = mapping;
    }

    /// <summary>The plane (XRGB8888).</summary>
    public VfioGfxPlane Plane { get; }

    /// <summary>Row <paramref name="y"/>: <see cref="VfioGfxPlane.Width"/> pixels of 4 bytes (B, G, R, unused).</summary>
    public ReadOnlySpan<byte> Row(int y)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(y);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)y, Plane.Height);
        return _mapping.Span(Plane.Offset + (ulong)y * Plane.Stride, (int)Plane.Width * 4);
    }

    /// <summary>Unmaps the memory.</summary>
    public void Dispose() => _mapping.Dispose();
}

/// <summary>Reads a device's screen through its display socket (see <see cref="VfioDisplayEndpoint"/>).</summary>
public static class VfioDisplayClient
{
    /// <summary>
    /// Asks the daemon for the primary plane and maps the snapshot of it read-only. ENODATA when the display
    /// is off or its mode is invalid; the daemon's errno for a failed query (ENOTTY: the device has no
    /// display); EPROTO for a malformed reply or memory that could shrink under the mapping.
    /// </summary>
    public static VfioDisplayFrame Capture(string socketPath)
    {
        using var socket = UnixSocket.Connect(socketPath);
        Span<byte> buffer = stackalloc byte[DisplayReply.Length + 1];
        DisplayRequest.Write(buffer);
        socket.Send(buffer[..DisplayRequest.Length]);
        var fds = new List<FileDescriptorHandle>(1);
        try
        {
            int filled = 0;
            while (filled < buffer.Length)
            {
                int n = socket.Receive(buffer[filled..], fds, out bool truncated);
                if (truncated) ThrowHelper.Throw(Errno.EPROTO, "display reply: too many descriptors");
                if (n == 0) break;
                filled += n;
            }
            var reply = DisplayReply.Parse(buffer[..filled]);
            if (!reply.Plane.IsEnabled)
                ThrowHelper.Throw(Errno.ENODATA, "the display is disabled or its mode is invalid (no valid framebuffer)");
            if (fds.Count != 1) ThrowHelper.Throw(Errno.EPROTO, $"display reply: {fds.Count} descriptors (expected 1)");
            // The size the daemon states must be the memory's: mapping past a file's end faults on access.
            if ((ulong)fds[0].GetRegularFileSize() < reply.MemorySize) ThrowHelper.Throw(Errno.EPROTO, "display reply: memory smaller than stated");
            // Nor may it shrink while mapped.
            if (!Sealed(fds[0])) ThrowHelper.Throw(Errno.EPROTO, "display reply: memory not sealed against shrinking");
            var mapping = MemoryMapping.Map(fds[0], 0, reply.Plane.Offset + reply.Plane.Size, writable: false);
            return new VfioDisplayFrame(reply.Plane, mapping);
        }
        finally
        {
            foreach (var fd in fds) fd.Dispose();
        }
    }

    private static bool Sealed(FileDescriptorHandle memory)
    {
        try { return (MemFd.GetSeals(memory) & MemFdSeals.Shrink) != 0; }
        catch (ErrnoException e) when (e.Errno == Errno.EINVAL) { return false; } // not a memfd
    }
}
