using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.Guest;

/// <summary>
/// The device's INTx line as a VMM wires it: an eventfd attached with SET_IRQS EVENTFD|TRIGGER, and an
/// UNMASK after each interrupt is serviced (VFIO auto-masks INTx when it fires).
/// </summary>
public sealed class IntxLine : IDisposable
{
    private readonly IVfioClientDevice _device;
    private readonly EventFd _eventFd;
    private bool _enabled;

    private IntxLine(IVfioClientDevice device, EventFd eventFd)
    {
        _device = device;
        _eventFd = eventFd;
    }

    /// <summary>Interrupts taken so far.</summary>
    public int Count { get; private set; }

    public static IntxLine Enable(IVfioClientDevice device)
    {
        var eventFd = EventFd.Create();
        try
        {
            device.SetIrqs(new VfioIrqSet(VfioIrqSetFlags.DataEventFd | VfioIrqSetFlags.ActionTrigger,
                VfioPci.IntxIrqIndex, 0, 1, eventFds: [eventFd]));
        }
        catch
        {
            eventFd.Dispose();
            throw;
        }
        return new IntxLine(device, eventFd) { _enabled = true };
    }

    /// <summary>Waits for the line to fire; false on timeout.</summary>
    public bool Wait(int timeoutMs)
    {
        if (_eventFd.Wait(timeoutMs) == 0) return false;
        Count++;
        return true;
    }

    /// <summary>Re-arms the auto-masked line, as QEMU does after the guest's next BAR access.</summary>
    public void Unmask() =>
        _device.SetIrqs(new VfioIrqSet(VfioIrqSetFlags.DataNone | VfioIrqSetFlags.ActionUnmask, VfioPci.IntxIrqIndex, 0, 1));

    public void Dispose()
    {
        if (_enabled)
        {
            _enabled = false;
            try
            {
                _device.SetIrqs(new VfioIrqSet(VfioIrqSetFlags.DataNone | VfioIrqSetFlags.ActionTrigger, VfioPci.IntxIrqIndex, 0, 0));
            }
            catch (ErrnoException)
            {
                // The device may already be closed; the eventfd goes away with us either way.
            }
        }
        _eventFd.Dispose();
    }
}
