using System.Net.Sockets;
using Grpc.Core;
using Dp = Umdev.DevicePlugin.Api.V1Beta1;

namespace Umdev.DevicePlugin.Tests;

/// <summary>The test kubelet refuses what kubelet refuses, so the plugin's passing registrations mean something.</summary>
public sealed class TestKubeletTests
{
    [Fact]
    public async Task Registrations_that_break_kubelets_rules_are_refused()
    {
        await using var kubelet = await TestKubelet.StartAsync();
        using var channel = UnixGrpcChannel.For(kubelet.KubeletSocket);
        var registration = new Dp.Registration.RegistrationClient(channel);
        // A socket bound but not listening: kubelet's dial inside Register fails (a plugin registering before it serves).
        using var deaf = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        deaf.Bind(new UnixDomainSocketEndPoint(Path.Combine(kubelet.DevicePluginDir, "deaf.sock")));
        Dp.RegisterRequest Request(string version = "v1beta1", string endpoint = "deaf.sock", string resource = "umdev.io/mtty-2") =>
            new() { Version = version, Endpoint = endpoint, ResourceName = resource, Options = new Dp.DevicePluginOptions() };
        foreach (var (request, reason) in new[]
        {
            (Request(version: "v1alpha"), "unsupported version"),
            (Request(resource: "mtty-2"), "invalid resource name"),
            (Request(resource: "kubernetes.io/mtty-2"), "kubernetes.io domain"),
            (Request(endpoint: "../x.sock"), "invalid endpoint"),
            (Request(endpoint: "missing.sock"), "does not exist"),
            (Request(), "cannot dial"),
        })
        {
            var e = await Assert.ThrowsAsync<RpcException>(() => registration.RegisterAsync(request).ResponseAsync);
            Assert.Contains(reason, e.Status.Detail);
        }
        Assert.Equal(6, kubelet.Refused.Count);
        Assert.Equal(0, kubelet.Capacity("umdev.io/mtty-2"));
    }
}
