using System.Text;
using Umdev.Guest;
using Umdev.VfioUser.Client;
using Umdev.VfioUser.Tests;

namespace Umdev.Cli.Tests;

/// <summary>The C# guest driver over a real vfio-user socket: the same card it finds in process.</summary>
public class GuestOverSocketTests
{
    [Fact]
    public void GuestBootsAndLoopsDataBackThroughTheSocket()
    {
        using var served = new MttyServerFixture();
        using var client = VfioUserClient.Connect(served.SocketPath);
        var guest = SerialCardGuest.Boot(client);
        Assert.Equal(2, guest.Ports.Count);
        Assert.All(guest.Ports, p => Assert.Equal("16550A", p.Type));
        Assert.StartsWith("00:05.0 Serial controller: Device 4348:3253 (rev 10) (prog-if 02 [16550])", guest.Lspci());
        var result = guest.Loopback(p => Encoding.ASCII.GetBytes($"over vfio-user via {p.Name}"));
        foreach (var port in guest.Ports) Assert.Equal(result.Sent[port], result.Received[port]);
        Assert.True(result.Interrupts > 0);
    }
}
