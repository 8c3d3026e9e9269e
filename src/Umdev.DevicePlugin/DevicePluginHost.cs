using System.Collections.Concurrent;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Umdev.DevicePlugin;

/// <summary>
/// <c>umdev device-plugin</c>: one <see cref="MdevResource"/> and <see cref="PluginEndpoint"/> per mdev type the
/// tree offers, kept registered with kubelet. Each poll refreshes the devices' health, adds types that appeared,
/// and registers again whenever kubelet's socket was recreated or the plugin's own socket deleted (a restarted
/// kubelet deletes every socket in its folder); every <see cref="DevicePluginSettings.Reconcile"/> the devices of
/// slots no pod holds are removed.
/// </summary>
public sealed partial class DevicePluginHost : IAsyncDisposable
{
    private readonly DevicePluginSettings _settings;
    private readonly ILogger _logger;
    private readonly MdevTree _tree;
    private readonly SlotAssignments _state;
    // Written by the poll loop only; read by the reconcile too, which a caller may run beside it.
    private readonly ConcurrentDictionary<string, (MdevResource Resource, PluginEndpoint? Endpoint)> _resources = new(StringComparer.Ordinal);
    private DateTime _kubeletSocketTime;
    private DateTime _lastReconcile = DateTime.UtcNow;

    /// <summary>Loads the state file (the assignments of an earlier run are kept).</summary>
    public DevicePluginHost(DevicePluginSettings settings, ILoggerFactory loggers)
    {
        _settings = settings;
        _logger = loggers.CreateLogger("umdev.device-plugin");
        _tree = new MdevTree(settings.Sysfs);
        _state = SlotAssignments.Load(settings.StateFile);
    }

    /// <summary>Polls until <paramref name="cancel"/> fires.</summary>
    public async Task RunAsync(CancellationToken cancel)
    {
        while (!cancel.IsCancellationRequested)
        {
            try { await PollAsync(cancel).ConfigureAwait(false); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or RpcException or InvalidOperationException)
            {
                LogPollFailed(e.Message); // the next poll starts over: a kubelet folder or tree that comes back is picked up
            }
            try { await Task.Delay(_settings.Poll, cancel).ConfigureAwait(false); }
            catch (OperationCanceledException) { }
        }
    }

    /// <summary>One round: types, health, registration, and the reconcile when it is due.</summary>
    public async Task PollAsync(CancellationToken cancel)
    {
        // The types the tree offers, and those of earlier assignments even while the daemon is away: kubelet
        // then sees the held slots Unhealthy rather than the resource gone.
        string prefix = _settings.ResourcePrefix + "/";
        var held = _state.Resources.Where(r => r.StartsWith(prefix, StringComparison.Ordinal)).Select(r => r[prefix.Length..]);
        var treeTypes = _tree.Types();
        foreach (var type in treeTypes.Select(t => t.Type).Concat(held).Distinct())
            if (!_resources.ContainsKey(type))
            {
                _resources[type] = (new MdevResource(_tree, _state, _settings.ResourcePrefix, _settings.Sockets, type, _logger), null);
                LogFound(type, $"{_settings.ResourcePrefix}/{type}");
            }
        foreach (var (resource, _) in _resources.Values) resource.Refresh(treeTypes);
        await KeepRegisteredAsync(cancel).ConfigureAwait(false);
        if (DateTime.UtcNow - _lastReconcile >= _settings.Reconcile) await ReconcileAsync(cancel).ConfigureAwait(false);
    }

    /// <summary>Removes the devices of slots no pod holds; nothing if kubelet's PodResources does not answer.</summary>
    public async Task ReconcileAsync(CancellationToken cancel)
    {
        _lastReconcile = DateTime.UtcNow;
        var held = await PodResourcesReconciler.HeldAsync(_settings.PodResourcesSocket, cancel).ConfigureAwait(false);
        if (held is null)
        {
            LogNoPodResources(_settings.PodResourcesSocket);
            return;
        }
        foreach (var (resource, _) in _resources.Values)
        {
            var freed = resource.Free(held.GetValueOrDefault(resource.Name) ?? [], _settings.Grace);
            if (freed.Count > 0) LogFreed(resource.Name, string.Join(", ", freed));
        }
    }

    private async Task KeepRegisteredAsync(CancellationToken cancel)
    {
        if (!File.Exists(_settings.KubeletSocket)) return; // kubelet is (re)starting: its new socket is awaited
        var kubeletTime = File.GetLastWriteTimeUtc(_settings.KubeletSocket);
        bool kubeletRestarted = kubeletTime != _kubeletSocketTime;
        _kubeletSocketTime = kubeletTime;
        foreach (var type in _resources.Keys.ToArray())
        {
            var (resource, endpoint) = _resources[type];
            if (endpoint is not null && !kubeletRestarted && File.Exists(endpoint.SocketPath)) continue;
            if (endpoint is not null) await endpoint.DisposeAsync().ConfigureAwait(false);
            _resources[type] = (resource, null);
            endpoint = await PluginEndpoint.StartAsync(resource, _settings.DevicePluginDir).ConfigureAwait(false);
            try
            {
                await endpoint.RegisterAsync(resource, _settings.KubeletSocket, cancel).ConfigureAwait(false);
            }
            catch (RpcException e)
            {
                LogRegisterFailed(resource.Name, e.Status.Detail);
                await endpoint.DisposeAsync().ConfigureAwait(false);
                continue; // no endpoint: tried again next poll
            }
            _resources[type] = (resource, endpoint);
            LogRegistered(resource.Name, endpoint.SocketPath);
        }
    }

    /// <summary>Stops serving kubelet; the devices and the state file stay, for the next run.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var (_, endpoint) in _resources.Values)
            if (endpoint is not null) await endpoint.DisposeAsync().ConfigureAwait(false);
        _resources.Clear();
    }

    [LoggerMessage(EventId = 701, Level = LogLevel.Information, Message = "device-plugin: mdev type {Type} offered as {Resource}")]
    private partial void LogFound(string type, string resource);

    [LoggerMessage(EventId = 702, Level = LogLevel.Information, Message = "device-plugin: {Resource} registered with kubelet, serving at {Socket}")]
    private partial void LogRegistered(string resource, string socket);

    [LoggerMessage(EventId = 703, Level = LogLevel.Warning, Message = "device-plugin: kubelet refused {Resource}: {Detail}")]
    private partial void LogRegisterFailed(string resource, string detail);

    [LoggerMessage(EventId = 704, Level = LogLevel.Information, Message = "device-plugin: {Resource}: no pod holds {Slots}; their devices were removed")]
    private partial void LogFreed(string resource, string slots);

    [LoggerMessage(EventId = 706, Level = LogLevel.Warning, Message = "device-plugin: poll failed: {Message}")]
    private partial void LogPollFailed(string message);

    [LoggerMessage(EventId = 705, Level = LogLevel.Warning, Message = "device-plugin: PodResources at {Socket} did not answer; nothing freed")]
    private partial void LogNoPodResources(string socket);
}
