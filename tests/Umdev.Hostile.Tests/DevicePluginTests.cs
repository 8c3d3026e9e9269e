using System.Diagnostics;
using System.Net.Sockets;
using Grpc.Core;
using Dp = Umdev.DevicePlugin.Api.V1Beta1;

namespace Umdev.Hostile.Tests;

/// <summary>
/// Malformed gRPC at <c>umdev device-plugin</c>'s socket (anyone who can reach the kubelet's plugin folder can):
/// garbage, truncated HTTP/2, idle connections, an Allocate of IDs it never advertised. It stays up and keeps
/// serving kubelet.
/// </summary>
[Collection(HostileCollection.Name)]
public sealed class DevicePluginTests(HostileDaemon daemon)
{
    private const string Mtty2 = "umdev.io/mtty-2";
    private readonly HostileDaemon d = daemon.Revived();

    private static readonly byte[] Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    private static byte[] Frame(int length, byte type, byte flags, int stream, int payloadBytes)
    {
        var f = new byte[9 + payloadBytes];
        f[0] = (byte)(length >> 16); f[1] = (byte)(length >> 8); f[2] = (byte)length;
        f[3] = type; f[4] = flags;
        f[5] = (byte)(stream >> 24); f[6] = (byte)(stream >> 16); f[7] = (byte)(stream >> 8); f[8] = (byte)stream;
        Random.Shared.NextBytes(f.AsSpan(9));
        return f;
    }

    private static async Task SendAndClose(string socket, params byte[][] parts)
    {
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await s.ConnectAsync(new UnixDomainSocketEndPoint(socket));
        try
        {
            foreach (var p in parts) await s.SendAsync(p);
            s.Shutdown(SocketShutdown.Send);
            var sink = new byte[4096];
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            while (await s.ReceiveAsync(sink, SocketFlags.None, cts.Token) > 0) { }
        }
        catch (SocketException) { }     // reset by the plugin: fine
        catch (OperationCanceledException) { }
    }

    [Fact]
    public async Task MalformedGrpcLeavesThePluginServing()
    {
        await using var kubelet = await TestKubelet.StartAsync();
        var psi = Daemon.StartInfo("device-plugin", "--sysfs", d.Dir, "--sockets", d.SocketDir,
            "--kubelet-dir", kubelet.Root, "--state", Path.Combine(kubelet.Root, "state.json"), "--poll", "0.2");
        psi.RedirectStandardError = true;
        using var plugin = Process.Start(psi)!;
        var log = plugin.StandardError.ReadToEndAsync();
        try
        {
            await TestKubelet.WaitForAsync(() => kubelet.Capacity(Mtty2) > 0, "registered", 120);
            var registered = kubelet.Find(Mtty2)!;
            string socket = Path.Combine(kubelet.DevicePluginDir, registered.Endpoint);
            Assert.Equal("600", Shell.Run("/usr/bin/stat", "-c", "%a", socket).AssertSuccess().Stdout.Trim()); // kubelet alone dials it

            var garbage = new byte[4096];
            Random.Shared.NextBytes(garbage);
            await SendAndClose(socket, garbage);
            await SendAndClose(socket, Preface[..10]);                                    // a truncated preface
            await SendAndClose(socket, Preface, Frame(16 << 20, 0x0, 0, 1, 16));           // DATA frame claiming 16 MiB
            await SendAndClose(socket, Preface, Frame(0, 0x4, 0, 0, 0), Frame(200, 0x1, 0x4, 1, 200)); // HEADERS of garbage HPACK
            await SendAndClose(socket, Preface, Frame(6, 0x4, 0, 0, 6)[..11]);             // SETTINGS cut off mid-frame
            await SendAndClose(socket, Preface, Frame(4, 0x8, 0, 0, 4), Frame(8, 0x7, 0, 0, 8)); // WINDOW_UPDATE and GOAWAY garbage
            var idle = new List<Socket>();
            for (int i = 0; i < 50; i++)
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await s.ConnectAsync(new UnixDomainSocketEndPoint(socket));
                idle.Add(s);
            }

            var bogus = new Dp.AllocateRequest { ContainerRequests = { new Dp.ContainerAllocateRequest { DevicesIds = { "no-such-device", "../../etc", new string('x', 10_000) } } } };
            var e = await Assert.ThrowsAsync<RpcException>(async () => await registered.Client.AllocateAsync(bogus, deadline: DateTime.UtcNow.AddSeconds(30)));
            Assert.NotEqual(StatusCode.OK, e.StatusCode);
            var empty = new Dp.AllocateRequest { ContainerRequests = { new Dp.ContainerAllocateRequest() } };
            try { await registered.Client.AllocateAsync(empty, deadline: DateTime.UtcNow.AddSeconds(30)); }
            catch (RpcException) { } // refusing an empty request is fine; dying is not

            foreach (var s in idle) s.Dispose();
            Assert.False(plugin.HasExited, "the plugin died");
            Assert.False(registered.Ended, "the plugin's ListAndWatch ended");
            await registered.Client.GetDevicePluginOptionsAsync(new Dp.Empty(), deadline: DateTime.UtcNow.AddSeconds(30));
            var admitted = await kubelet.AdmitAsync("pod-after-garbage", Mtty2);
            Assert.NotEmpty(admitted.Mounts);
        }
        finally
        {
            if (!plugin.HasExited) Shell.Run("/bin/kill", "-TERM", plugin.Id.ToString()).AssertSuccess();
            Assert.True(plugin.WaitForExit(TimeSpan.FromSeconds(60)), "device-plugin did not exit on SIGTERM");
        }
        Assert.True(plugin.ExitCode == 0, $"device-plugin exited {plugin.ExitCode}: {await log}");
        // Its state names the device the pod got; the plugin leaves it for its next run. Remove it by hand.
        foreach (string dev in Directory.GetDirectories(Path.Combine(d.Dir, "bus/mdev/devices")))
        {
            var uuid = Guid.Parse(Path.GetFileName(dev));
            if (uuid != d.Mtty && uuid != d.Mbochs && uuid != d.Disk) d.Remove(uuid);
        }
        d.AssertHealthy();
    }
}
