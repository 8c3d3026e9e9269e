using Grpc.Core;
using Microsoft.Extensions.Hosting;
using Umdev.DevicePlugin.Api.V1Beta1;

namespace Umdev.DevicePlugin;

/// <summary>
/// kubelet's side of one resource: the device list and its changes (ListAndWatch), and Allocate, which hands
/// each container the folders of its devices' sockets at <see cref="ContainerRoot"/><c>/&lt;type&gt;/&lt;n&gt;</c>
/// and names them in environment variables.
/// </summary>
public sealed class DevicePluginService(MdevResource resource, IHostApplicationLifetime lifetime) : Api.V1Beta1.DevicePlugin.DevicePluginBase
{
    /// <summary>Where the containers see the socket folders of their devices.</summary>
    public const string ContainerRoot = "/run/umdev";

    /// <summary>What the plugin needs from kubelet: neither PreStartContainer nor GetPreferredAllocation.</summary>
    public static DevicePluginOptions Options => new() { PreStartRequired = false, GetPreferredAllocationAvailable = false };

    /// <inheritdoc/>
    public override Task<DevicePluginOptions> GetDevicePluginOptions(Empty request, ServerCallContext context) => Task.FromResult(Options);

    /// <summary>Sends the list, then again after every change, until kubelet leaves or the plugin stops.</summary>
    public override async Task ListAndWatch(Empty request, IServerStreamWriter<ListAndWatchResponse> responseStream, ServerCallContext context)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        while (!stop.IsCancellationRequested)
        {
            var changed = resource.Changed;
            await responseStream.WriteAsync(new ListAndWatchResponse { Devices = { resource.Devices } }).ConfigureAwait(false);
            try { await changed.WaitAsync(stop.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
        }
    }

    /// <inheritdoc/>
    public override Task<PreferredAllocationResponse> GetPreferredAllocation(PreferredAllocationRequest request, ServerCallContext context) =>
        throw new RpcException(new Status(StatusCode.Unimplemented, "umdev does not prefer devices (GetPreferredAllocationAvailable is false)"));

    /// <summary>
    /// Creates a device per requested slot, all containers' at once so that a failure leaves none of them
    /// (see <see cref="MdevResource.Allocate"/>), and tells each container where its sockets are.
    /// </summary>
    public override Task<AllocateResponse> Allocate(AllocateRequest request, ServerCallContext context)
    {
        var devices = resource.Allocate(request.ContainerRequests.SelectMany(c => c.DevicesIds).ToArray());
        var response = new AllocateResponse();
        int next = 0;
        foreach (var container in request.ContainerRequests)
        {
            response.ContainerResponses.Add(ForContainer(resource.Type, devices.Skip(next).Take(container.DevicesIds.Count).ToArray()));
            next += container.DevicesIds.Count;
        }
        return Task.FromResult(response);
    }

    /// <inheritdoc/>
    public override Task<PreStartContainerResponse> PreStartContainer(PreStartContainerRequest request, ServerCallContext context) =>
        Task.FromResult(new PreStartContainerResponse());

    /// <summary>
    /// The mounts (each device's socket folder, read-write, at <c>/run/umdev/&lt;type&gt;/&lt;n&gt;</c>) and
    /// variables <c>UMDEV_&lt;TYPE&gt;_UUIDS</c> and <c>UMDEV_&lt;TYPE&gt;_SOCKETS</c> (comma-separated, in the same order).
    /// </summary>
    public static ContainerAllocateResponse ForContainer(string type, IReadOnlyList<SlotDevice> devices)
    {
        var response = new ContainerAllocateResponse();
        var sockets = new List<string>();
        for (int i = 0; i < devices.Count; i++)
        {
            string folder = $"{ContainerRoot}/{type}/{i}";
            response.Mounts.Add(new Mount { HostPath = devices[i].Folder, ContainerPath = folder, ReadOnly = false });
            sockets.Add($"{folder}/{Path.GetFileName(devices[i].Socket)}");
        }
        string prefix = "UMDEV_" + new string(type.Select(c => char.IsAsciiLetterOrDigit(c) ? char.ToUpperInvariant(c) : '_').ToArray());
        response.Envs[prefix + "_UUIDS"] = string.Join(',', devices.Select(d => MdevTree.Name(d.Uuid)));
        response.Envs[prefix + "_SOCKETS"] = string.Join(',', sockets);
        return response;
    }
}
