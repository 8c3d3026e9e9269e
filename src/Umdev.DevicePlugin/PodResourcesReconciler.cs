using Grpc.Core;
using Umdev.DevicePlugin.Api.PodResourcesV1;

namespace Umdev.DevicePlugin;

/// <summary>
/// kubelet has no Deallocate: the PodResources API's List says which pod holds which device ID, and the devices
/// of the slots no pod holds are removed. When kubelet cannot be asked, nothing is removed.
/// </summary>
public static class PodResourcesReconciler
{
    /// <summary>The device IDs of each resource held by some container, or null if PodResources did not answer.</summary>
    public static async Task<IReadOnlyDictionary<string, HashSet<string>>?> HeldAsync(string podResourcesSocket, CancellationToken cancel)
    {
        if (!File.Exists(podResourcesSocket)) return null;
        using var channel = UnixGrpcChannel.For(podResourcesSocket);
        ListPodResourcesResponse list;
        try
        {
            list = await new PodResourcesLister.PodResourcesListerClient(channel)
                .ListAsync(new ListPodResourcesRequest(), deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: cancel);
        }
        catch (RpcException) { return null; }
        var held = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var device in list.PodResources.SelectMany(p => p.Containers).SelectMany(c => c.Devices))
        {
            if (!held.TryGetValue(device.ResourceName, out var ids)) held[device.ResourceName] = ids = new(StringComparer.Ordinal);
            ids.UnionWith(device.DeviceIds);
        }
        return held;
    }
}
