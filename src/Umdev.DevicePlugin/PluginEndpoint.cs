using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Umdev.DevicePlugin.Api.V1Beta1;

namespace Umdev.DevicePlugin;

/// <summary>
/// One resource's plugin socket in kubelet's device-plugins folder, served by its own Kestrel (HTTP/2 over the
/// UNIX socket), then registered with kubelet. kubelet dials the socket while it handles Register, so the
/// server runs first. Disposing stops the server, which ends the ListAndWatch stream.
/// </summary>
public sealed class PluginEndpoint : IAsyncDisposable
{
    /// <summary>The API version this plugin speaks.</summary>
    public const string ApiVersion = "v1beta1";

    private readonly WebApplication _app;

    private PluginEndpoint(WebApplication app, string socketPath)
    {
        _app = app;
        SocketPath = socketPath;
    }

    /// <summary>The plugin's socket.</summary>
    public string SocketPath { get; }

    /// <summary>
    /// Serves <paramref name="resource"/> at <c>&lt;folder&gt;/umdev-&lt;type&gt;.sock</c> (mode 0600: only root, as
    /// kubelet, may call Allocate), replacing a stale socket.
    /// </summary>
    public static async Task<PluginEndpoint> StartAsync(MdevResource resource, string devicePluginDir)
    {
        string socketPath = Path.Combine(devicePluginDir, $"umdev-{resource.Type}.sock");
        File.Delete(socketPath);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(resource);
        builder.Services.AddGrpc();
        builder.WebHost.ConfigureKestrel(k => k.ListenUnixSocket(socketPath, l => l.Protocols = HttpProtocols.Http2));
        builder.WebHost.UseShutdownTimeout(TimeSpan.FromSeconds(2));
        var app = builder.Build();
        app.MapGrpcService<DevicePluginService>();
        await app.StartAsync().ConfigureAwait(false);
        // Kestrel binds with the umask's mode; tightened before kubelet is told of the socket.
        try
        {
#pragma warning disable CA1416 // umdev runs on Linux only
            File.SetUnixFileMode(socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
#pragma warning restore CA1416
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return new PluginEndpoint(app, socketPath);
    }

    /// <summary>Registers the socket with kubelet at <paramref name="kubeletSocket"/>; kubelet's refusal is an RpcException.</summary>
    public async Task RegisterAsync(MdevResource resource, string kubeletSocket, CancellationToken cancel)
    {
        using var channel = UnixGrpcChannel.For(kubeletSocket);
        await new Registration.RegistrationClient(channel).RegisterAsync(new RegisterRequest
        {
            Version = ApiVersion,
            Endpoint = Path.GetFileName(SocketPath),
            ResourceName = resource.Name,
            Options = DevicePluginService.Options,
        }, deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: cancel);
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
