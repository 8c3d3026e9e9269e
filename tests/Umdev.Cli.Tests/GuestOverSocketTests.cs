using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Umdev.Core;
using Umdev.Devices.Mtty;
using Umdev.Guest;
using Umdev.VfioUser;
using Umdev.VfioUser.Client;

namespace Umdev.Cli.Tests;

/// <summary>The C# guest driver over a real vfio-user socket: the same card it finds in process.</summary>
public class GuestOverSocketTests
{
    [Fact]
    public void GuestBootsAndLoopsDataBackThroughTheSocket()
    {
        string dir = Path.Combine("/tmp", "vug-" + Guid.NewGuid().ToString("N")[..10]);
        var core = new MdevCore();
        var parent = Mtty.Register(core);
        var service = new VfioUserService(core, dir, NullLoggerFactory.Instance);
        var mdev = core.Create(parent.FindType("mtty-2")!, Guid.NewGuid());
        try
        {
            using var client = VfioUserClient.Connect(VfioUserService.SocketPathFor(dir, mdev.Uuid));
            var guest = SerialCardGuest.Boot(client);
            Assert.Equal(2, guest.Ports.Count);
            Assert.All(guest.Ports, p => Assert.Equal("16550A", p.Type));
            Assert.StartsWith("00:05.0 Serial controller: Device 4348:3253 (rev 10) (prog-if 02 [16550])", guest.Lspci());
            var result = guest.Loopback(p => Encoding.ASCII.GetBytes($"over vfio-user via {p.Name}"));
            foreach (var port in guest.Ports) Assert.Equal(result.Sent[port], result.Received[port]);
            Assert.True(result.Interrupts > 0);
        }
        finally
        {
            service.Dispose();
            Mtty.Unregister(core, parent);
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }
}
