using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.Guest;

/// <summary>
/// A guest's view of one mtty-like card: what the VMM asks of the device at realize, what firmware
/// programs, and what 8250_pci finds. Ports are named from ttyS1, as ttyS0 is the guest's console.
/// </summary>
public sealed class SerialCardGuest
{
    private SerialCardGuest(IVfioClientDevice device, PciConfigAccess config, PciFunction function, IReadOnlyList<Serial8250Port> ports)
    {
        Device = device;
        Config = config;
        Function = function;
        Ports = ports;
    }

    public IVfioClientDevice Device { get; }
    public PciConfigAccess Config { get; }
    public PciFunction Function { get; }
    public IReadOnlyList<Serial8250Port> Ports { get; }

    public static SerialCardGuest Boot(IVfioClientDevice device, IReadOnlyList<ulong>? ioBases = null, byte irq = PciFirmware.DocumentedInterruptLine)
    {
        var info = device.GetInfo();
        if ((info.Flags & VfioDeviceFlags.Pci) == 0) ThrowHelper.Throw(Errno.ENODEV, "not a PCI device");
        var config = new PciConfigAccess(device);
        var function = PciFirmware.Configure(config, ioBases ?? PciFirmware.DocumentedIoBases, irq);
        var ports = new List<Serial8250Port>();
        foreach (var bar in function.Bars.Where(b => b.IsIo && b.Size == 8))
        {
            var port = new Serial8250Port(device, ports.Count + 1, bar, function.InterruptLine);
            port.Probe();
            ports.Add(port);
        }
        return new SerialCardGuest(device, config, function, ports);
    }

    public string Lspci(string slot = "00:05.0", int hexBytes = 64) =>
        LspciFormatter.Format(Config.ReadAll(), Function.Bars, slot, Ports.Count > 0 ? "serial" : null, hexBytes);

    /// <summary>Starts every port and loops one message through each at once, driven by INTx.</summary>
    public LoopbackResult Loopback(Func<Serial8250Port, byte[]> message, int quietTimeoutMs = 5000)
    {
        using var intx = IntxLine.Enable(Device);
        foreach (var port in Ports) port.Startup();
        var loop = new SerialLoopback(intx);
        var sent = new Dictionary<Serial8250Port, byte[]>();
        foreach (var port in Ports)
        {
            sent[port] = message(port);
            loop.Add(port, sent[port]);
        }
        var received = loop.Run(quietTimeoutMs);
        foreach (var port in Ports) port.Shutdown();
        return new LoopbackResult(sent, received, intx.Count, loop.SpuriousInterrupts);
    }
}

public sealed record LoopbackResult(
    IReadOnlyDictionary<Serial8250Port, byte[]> Sent,
    IReadOnlyDictionary<Serial8250Port, byte[]> Received,
    int Interrupts,
    int SpuriousInterrupts)
{
    public bool AllMatch => Sent.All(kv => Received.TryGetValue(kv.Key, out var r) && r.AsSpan().SequenceEqual(kv.Value));
}
