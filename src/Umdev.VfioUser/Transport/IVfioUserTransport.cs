using Umdev.Interop;

namespace Umdev.VfioUser.Transport;

/// <summary>
/// A byte stream with descriptor passing: what the vfio-user server and client run over. The socket
/// implementation is <see cref="SocketTransport"/>; tests and fuzzers may supply their own.
/// </summary>
public interface IVfioUserTransport : IDisposable
{
    /// <summary>
    /// Reads what is available (blocking until at least one byte or end of stream; 0 = end). Received
    /// descriptors are appended to <paramref name="fds"/>; <paramref name="fdsTruncated"/> reports that
    /// some were dropped (MSG_CTRUNC).
    /// </summary>
    int Receive(Span<byte> buffer, List<FileDescriptorHandle> fds, out bool fdsTruncated);

    /// <summary>Sends the whole buffer; descriptors go with its first byte.</summary>
    void Send(ReadOnlySpan<byte> data, ReadOnlySpan<FileDescriptorHandle> fds);

    /// <summary>Ends the stream both ways (wakes a blocked <see cref="Receive"/>).</summary>
    void Shutdown();

    /// <summary>Waits until <see cref="Receive"/> would not block; false on timeout.</summary>
    bool WaitReadable(int timeoutMs);
}

/// <summary>A connected AF_UNIX stream socket.</summary>
public sealed class SocketTransport(UnixSocket socket) : IVfioUserTransport
{
    public UnixSocket Socket => socket;

    public int Receive(Span<byte> buffer, List<FileDescriptorHandle> fds, out bool fdsTruncated) =>
        socket.Receive(buffer, fds, out fdsTruncated);

    public void Send(ReadOnlySpan<byte> data, ReadOnlySpan<FileDescriptorHandle> fds) => socket.Send(data, fds);

    public void Shutdown() => socket.Shutdown();

    public bool WaitReadable(int timeoutMs) => socket.WaitReadable(timeoutMs);

    public void Dispose() => socket.Dispose();
}
