using System.Net.Sockets;
using Grpc.Net.Client;

namespace Umdev.DevicePlugin;

/// <summary>gRPC channels over a UNIX socket (HTTP/2 without TLS), as kubelet and its plugins talk.</summary>
public static class UnixGrpcChannel
{
    /// <summary>A channel whose every connection is a new connection to <paramref name="socketPath"/>.</summary>
    public static GrpcChannel For(string socketPath)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancel) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancel).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler });
    }
}
