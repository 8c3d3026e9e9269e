using System.Net.Sockets;
using System.Text.RegularExpressions;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Dp = Umdev.DevicePlugin.Api.V1Beta1;
using Pr = Umdev.DevicePlugin.Api.PodResourcesV1;

namespace Umdev.DevicePlugin.Tests;

/// <summary>
/// Plays kubelet for the plugin (no kubelet can be installed here): the Registration service at
/// <c>device-plugins/kubelet.sock</c> and PodResources at <c>pod-resources/kubelet.sock</c>, both real gRPC over
/// UNIX sockets. It keeps kubelet's rules: Register checks the version, the resource name and the endpoint, and
/// dials the plugin before it answers; a plugin's ListAndWatch stream is its life (when it ends the plugin is
/// dropped and never called again); a new registration of a resource replaces the old one; Allocate is called
/// only with devices last advertised Healthy that no pod holds; pods and their device IDs are checkpointed and
/// survive <see cref="RestartAsync"/>, which deletes every socket in the folder as kubelet does.
/// </summary>
public sealed class TestKubelet : IAsyncDisposable
{
    private static readonly Regex ResourceName = new(@"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)/([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$");
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Plugin> _plugins = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Resource, string[] Ids)> _pods = new(StringComparer.Ordinal); // the checkpoint
    private WebApplication? _app;

    private TestKubelet(string root) => Root = root;

    public string Root { get; }
    public string DevicePluginDir => Path.Combine(Root, "device-plugins");
    public string KubeletSocket => Path.Combine(DevicePluginDir, "kubelet.sock");
    public string PodResourcesSocket => Path.Combine(Root, "pod-resources", "kubelet.sock");

    /// <summary>Registrations refused, with kubelet's reason (a test asserts none).</summary>
    public List<string> Refused { get; } = [];

    /// <summary>How many times each resource registered.</summary>
    public Dictionary<string, int> Registrations { get; } = new(StringComparer.Ordinal);

    public static async Task<TestKubelet> StartAsync()
    {
        var kubelet = new TestKubelet(Directory.CreateTempSubdirectory("umdev-kubelet-").FullName);
        await kubelet.ServeAsync();
        return kubelet;
    }

    /// <summary>A connected plugin as kubelet tracks it.</summary>
    public sealed class Plugin(string resource, string endpoint, Grpc.Net.Client.GrpcChannel channel)
    {
        public string Resource { get; } = resource;
        public string Endpoint { get; } = endpoint;
        public Dp.DevicePlugin.DevicePluginClient Client { get; } = new(channel);
        public Grpc.Net.Client.GrpcChannel Channel { get; } = channel;
        public CancellationTokenSource Stop { get; } = new();
        public volatile IReadOnlyList<Dp.Device> Devices = [];
        public volatile bool Ended;
        public int Updates;
    }

    public Plugin? Find(string resource) { lock (_lock) return _plugins.GetValueOrDefault(resource); }

    /// <summary>Healthy devices of a live plugin: what kubelet reports as the node's capacity of the resource.</summary>
    public int Capacity(string resource) =>
        Find(resource) is { Ended: false } p ? p.Devices.Count(d => d.Health == "Healthy") : 0;

    public IReadOnlyList<string> HeldBy(string pod) { lock (_lock) return _pods.TryGetValue(pod, out var p) ? p.Ids : []; }

    /// <summary>
    /// Admits a pod asking for <paramref name="count"/> of <paramref name="resource"/>: picks Healthy devices no
    /// pod holds (in advertised order), calls Allocate and checkpoints the pod.
    /// </summary>
    public async Task<Dp.ContainerAllocateResponse> AdmitAsync(string pod, string resource, int count = 1)
    {
        Plugin plugin;
        string[] ids;
        lock (_lock)
        {
            plugin = _plugins.GetValueOrDefault(resource) ?? throw new InvalidOperationException($"no plugin for {resource}");
            if (plugin.Ended) throw new InvalidOperationException($"{resource}: plugin's ListAndWatch ended");
            var held = _pods.Values.Where(p => p.Resource == resource).SelectMany(p => p.Ids).ToHashSet();
            ids = plugin.Devices.Where(d => d.Health == "Healthy" && !held.Contains(d.ID)).Select(d => d.ID).Take(count).ToArray();
            if (ids.Length < count) throw new InvalidOperationException($"{resource}: {count} requested, {ids.Length} free and healthy");
        }
        var request = new Dp.AllocateRequest { ContainerRequests = { new Dp.ContainerAllocateRequest { DevicesIds = { ids } } } };
        var response = await plugin.Client.AllocateAsync(request, deadline: DateTime.UtcNow.AddSeconds(60));
        if (response.ContainerResponses.Count != 1) throw new InvalidOperationException("Allocate answered for another number of containers");
        lock (_lock) _pods[pod] = (resource, ids);
        return response.ContainerResponses[0];
    }

    public void DeletePod(string pod) { lock (_lock) _pods.Remove(pod); }

    /// <summary>kubelet restarting: its servers stop, every socket in the folder is deleted, a new kubelet.sock is served; the checkpoint stays.</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        foreach (string file in Directory.GetFiles(DevicePluginDir)) File.Delete(file); // this kubelet keeps its checkpoint in memory
        await ServeAsync();
    }

    public static async Task WaitForAsync(Func<bool> condition, string what, double seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"timed out waiting for: {what}");
            await Task.Delay(50);
        }
    }

    private async Task ServeAsync()
    {
        Directory.CreateDirectory(DevicePluginDir);
        Directory.CreateDirectory(Path.GetDirectoryName(PodResourcesSocket)!);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(this);
        builder.Services.AddGrpc();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.ListenUnixSocket(KubeletSocket, l => l.Protocols = HttpProtocols.Http2);
            k.ListenUnixSocket(PodResourcesSocket, l => l.Protocols = HttpProtocols.Http2);
        });
        builder.WebHost.UseShutdownTimeout(TimeSpan.FromSeconds(2));
        _app = builder.Build();
        _app.MapGrpcService<RegistrationService>();
        _app.MapGrpcService<PodResourcesService>();
        await _app.StartAsync();
    }

    private async Task StopAsync()
    {
        Plugin[] plugins;
        lock (_lock)
        {
            plugins = _plugins.Values.ToArray();
            _plugins.Clear();
        }
        foreach (var p in plugins) Drop(p);
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }
    }

    private static void Drop(Plugin plugin)
    {
        plugin.Stop.Cancel();
        plugin.Channel.Dispose();
    }

    private async Task RegisterAsync(Dp.RegisterRequest request)
    {
        string? refusal =
            request.Version != "v1beta1" ? $"unsupported version {request.Version}" :
            ResourceName.Match(request.ResourceName) is not { Success: true } m ? $"invalid resource name {request.ResourceName}" :
            m.Groups[1].Value.EndsWith("kubernetes.io", StringComparison.Ordinal) ? $"resource {request.ResourceName} is in the kubernetes.io domain" :
            request.Endpoint.Contains('/') || request.Endpoint is "" or "kubelet.sock" ? $"invalid endpoint {request.Endpoint}" :
            !File.Exists(Path.Combine(DevicePluginDir, request.Endpoint)) ? $"endpoint {request.Endpoint} does not exist in {DevicePluginDir}" :
            request.Options is null ? "no options" :
            null;
        if (refusal is not null)
        {
            lock (_lock) Refused.Add(refusal);
            throw new RpcException(new Status(StatusCode.InvalidArgument, refusal));
        }
        // kubelet dials the endpoint inside Register: a plugin that registers before it serves is refused.
        string socket = Path.Combine(DevicePluginDir, request.Endpoint);
        try
        {
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await probe.ConnectAsync(new UnixDomainSocketEndPoint(socket));
        }
        catch (SocketException e)
        {
            lock (_lock) Refused.Add($"dial {socket}: {e.Message}");
            throw new RpcException(new Status(StatusCode.Unavailable, $"cannot dial {socket}: {e.Message}"));
        }
        var plugin = new Plugin(request.ResourceName, request.Endpoint, Umdev.DevicePlugin.UnixGrpcChannel.For(socket));
        lock (_lock)
        {
            if (_plugins.Remove(request.ResourceName, out var old)) Drop(old);
            _plugins[request.ResourceName] = plugin;
            Registrations[request.ResourceName] = Registrations.GetValueOrDefault(request.ResourceName) + 1;
        }
        _ = Task.Run(() => WatchAsync(plugin));
    }

    private static async Task WatchAsync(Plugin plugin)
    {
        try
        {
            using var call = plugin.Client.ListAndWatch(new Dp.Empty(), cancellationToken: plugin.Stop.Token);
            while (await call.ResponseStream.MoveNext(plugin.Stop.Token))
            {
                plugin.Devices = call.ResponseStream.Current.Devices.ToArray();
                Interlocked.Increment(ref plugin.Updates);
            }
        }
        catch (RpcException) { }
        catch (OperationCanceledException) { }
        catch (ObjectDisposedException) { }
        plugin.Ended = true;
    }

    private Pr.ListPodResourcesResponse ListPods()
    {
        var response = new Pr.ListPodResourcesResponse();
        lock (_lock)
            foreach (var (pod, (resource, ids)) in _pods)
                response.PodResources.Add(new Pr.PodResources
                {
                    Name = pod,
                    Namespace = "default",
                    Containers = { new Pr.ContainerResources { Name = "main", Devices = { new Pr.ContainerDevices { ResourceName = resource, DeviceIds = { ids } } } } },
                });
        return response;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try { Directory.Delete(Root, true); } catch (IOException) { }
    }

    private sealed class RegistrationService(TestKubelet kubelet) : Dp.Registration.RegistrationBase
    {
        public override async Task<Dp.Empty> Register(Dp.RegisterRequest request, ServerCallContext context)
        {
            await kubelet.RegisterAsync(request);
            return new Dp.Empty();
        }
    }

    private sealed class PodResourcesService(TestKubelet kubelet) : Pr.PodResourcesLister.PodResourcesListerBase
    {
        public override Task<Pr.ListPodResourcesResponse> List(Pr.ListPodResourcesRequest request, ServerCallContext context) =>
            Task.FromResult(kubelet.ListPods());
    }
}
