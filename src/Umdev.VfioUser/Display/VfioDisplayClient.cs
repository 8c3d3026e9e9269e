using System.Buffers;
using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.VfioUser.Display;

/// <summary>What a display socket shows: the plane and a copy of its pixels, the client's own.</summary>
public sealed class VfioDisplayFrame : IDisposable
{
    // Rented: a frame is megabytes, and a fresh large array per capture costs page faults and full GCs.
    private byte[]? _pixels;

    internal VfioDisplayFrame(VfioGfxPlane plane, byte[] pixels)
    {
        Plane = plane;
        _pixels = pixels;
    }

    /// <summary>The plane (XRGB8888; its offset is 0, into the pixels received).</summary>
    public VfioGfxPlane Plane { get; }

    /// <summary>Row <paramref name="y"/>: <see cref="VfioGfxPlane.Width"/> pixels of 4 bytes (B, G, R, unused).</summary>
    public ReadOnlySpan<byte> Row(int y)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(y);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)y, Plane.Height);
        ObjectDisposedException.ThrowIf(_pixels is null, this);
        return _pixels.AsSpan((int)((ulong)y * Plane.Stride), (int)Plane.Width * 4);
    }

    /// <summary>Gives the pixel buffer back to the pool; rows are no longer readable.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _pixels, null) is { } pixels) ArrayPool<byte>.Shared.Return(pixels);
    }
}

/// <summary>Reads a device's screen through its display socket (see <see cref="VfioDisplayEndpoint"/>).</summary>
public static class VfioDisplayClient
{
    /// <summary>
    /// Asks the daemon for the primary plane and reads its pixels. ENODATA when the display is off or its mode
    /// is invalid; the daemon's errno for a failed query (ENOTTY: the device has no display); EPROTO for a
    /// malformed reply: a plane over <see cref="DisplayReply.MaxPixelBytes"/>, pixels short or in excess of
    /// stride × height, or any descriptor attached (the display gives pixels, never memory).
    /// </summary>
    public static VfioDisplayFrame Capture(string socketPath)
    {
        using var socket = UnixSocket.Connect(socketPath);
        Span<byte> header = stackalloc byte[DisplayReply.Length];
        DisplayRequest.Write(header);
        socket.Send(header[..DisplayRequest.Length]);
        if (ReceiveAll(socket, header) != header.Length) ThrowHelper.Throw(Errno.EPROTO, "display reply: short");
        var reply = DisplayReply.Parse(header);
        if (!reply.Plane.IsEnabled)
            ThrowHelper.Throw(Errno.ENODATA, "the display is disabled or its mode is invalid (no valid framebuffer)");
        // Parse bounded PixelBytes (≤ MaxPixelBytes, equal to stride × height) before this allocation.
        int length = (int)reply.PixelBytes;
        var pixels = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            if (ReceiveAll(socket, pixels.AsSpan(0, length)) != length) ThrowHelper.Throw(Errno.EPROTO, "display reply: fewer pixels than stride x height");
            Span<byte> extra = stackalloc byte[1];
            if (ReceiveAll(socket, extra) != 0) ThrowHelper.Throw(Errno.EPROTO, "display reply: bytes past the pixels");
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(pixels);
            throw;
        }
        return new VfioDisplayFrame(reply.Plane, pixels);
    }

    // Fills buffer until it is full or the stream ends; EPROTO (the descriptors closed) if any came along.
    private static int ReceiveAll(UnixSocket socket, Span<byte> buffer)
    {
        var fds = new List<FileDescriptorHandle>(1);
        int filled = 0;
        try
        {
            while (filled < buffer.Length)
            {
                int n = socket.Receive(buffer[filled..], fds, out bool truncated);
                if (truncated || fds.Count > 0) ThrowHelper.Throw(Errno.EPROTO, "display reply: a descriptor attached (the display sends pixels only)");
                if (n == 0) break;
                filled += n;
            }
            return filled;
        }
        finally
        {
            foreach (var fd in fds) fd.Dispose();
        }
    }
}
