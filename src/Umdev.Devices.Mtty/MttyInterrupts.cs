using Umdev.Interop;
using Umdev.Vfio;

namespace Umdev.Devices.Mtty;

/// <summary>
/// The card's interrupt delivery (mtty.md §9): one INTx line with auto-mask, or one MSI vector,
/// signalled through the eventfds the user attached with SET_IRQS. Not thread-safe: the device lock
/// serialises every call.
/// </summary>
internal sealed class MttyInterrupts
{
    private enum Mode { None = -1, Intx = 0, Msi = 1 }

    private readonly Func<bool> _levelPending;
    private EventFdReference? _intx;
    private EventFdReference? _msi;
    private bool _intxMasked;

    /// <param name="levelPending">Whether an enabled interrupt condition is pending on any port.</param>
    public MttyInterrupts(Func<bool> levelPending) => _levelPending = levelPending;

    // The mode follows from which eventfd is attached (at most one: attaching needs the other disabled).
    private Mode CurrentMode => _intx is not null ? Mode.Intx : _msi is not null ? Mode.Msi : Mode.None;

    /// <summary>Raises the interrupt <paramref name="times"/> times (one per event).</summary>
    public void Raise(int times)
    {
        for (int i = 0; i < times; i++) Raise();
    }

    public void Raise()
    {
        if (_msi is not null)
        {
            _msi.Signal();
        }
        else if (_intx is not null && !_intxMasked)
        {
            _intx.Signal();
            _intxMasked = true; // auto-mask until the user unmasks
        }
    }

    /// <summary>VFIO_DEVICE_SET_IRQS after the core's validation.</summary>
    public void SetIrqs(in VfioIrqSet set)
    {
        switch (set.Index)
        {
            case VfioPci.IntxIrqIndex:
                SetIntx(set);
                break;
            case VfioPci.MsiIrqIndex:
                SetMsi(set);
                break;
            default:
                ThrowHelper.Throw(Errno.ENOTTY, $"IRQ index {set.Index} is not supported"); // MSI-X, ERR, REQ
                break;
        }
    }

    /// <summary>Releases both eventfds (close of the device, removal).</summary>
    public void DisableAll()
    {
        DisableIntx();
        DisableMsi();
    }

    private void SetIntx(in VfioIrqSet set)
    {
        switch (set.Action)
        {
            case VfioIrqSetFlags.ActionMask or VfioIrqSetFlags.ActionUnmask:
                bool mask = set.Action == VfioIrqSetFlags.ActionMask;
                if (CurrentMode != Mode.Intx || set.Start != 0 || set.Count != 1)
                    ThrowHelper.Throw(Errno.EINVAL, "INTx is not enabled");
                if (set.DataType == VfioIrqSetFlags.DataEventFd)
                    ThrowHelper.Throw(Errno.ENOTTY, "no mask/unmask eventfd support");
                if (set.DataType == VfioIrqSetFlags.DataBool && set.Data[0] == 0) return;
                _intxMasked = mask;
                if (!mask) ReassertLevel();
                break;
            case VfioIrqSetFlags.ActionTrigger:
                Trigger(set, Mode.Intx);
                break;
            default:
                break; // no action bit or several: matches no case and succeeds, as in the sample
        }
    }

    private void SetMsi(in VfioIrqSet set)
    {
        switch (set.Action)
        {
            case VfioIrqSetFlags.ActionMask or VfioIrqSetFlags.ActionUnmask:
                ThrowHelper.Throw(Errno.ENOTTY, "MSI cannot be masked");
                break;
            case VfioIrqSetFlags.ActionTrigger:
                Trigger(set, Mode.Msi);
                break;
            default:
                break;
        }
    }

    private void Trigger(in VfioIrqSet set, Mode index)
    {
        if (CurrentMode == index && set.Count == 0 && set.DataType == VfioIrqSetFlags.DataNone)
        {
            Disable(index);
            return;
        }
        if ((CurrentMode != index && CurrentMode != Mode.None) || set.Start != 0 || set.Count != 1)
            ThrowHelper.Throw(Errno.EINVAL, $"cannot set {index} trigger in mode {CurrentMode}");
        if (set.DataType == VfioIrqSetFlags.DataEventFd)
        {
            Disable(index);
            var eventFd = set.EventFds[0];
            if (eventFd is null) return; // −1: de-assign only
            var reference = eventFd.AddReference(); // EBADF if the descriptor is already closed
            if (index == Mode.Intx) _intx = reference;
            else _msi = reference;
            return;
        }
        if (CurrentMode != index) ThrowHelper.Throw(Errno.EINVAL, $"{index} is not enabled");
        if (set.DataType == VfioIrqSetFlags.DataNone || set.Data[0] != 0) Raise();
    }

    /// <summary>
    /// Fix (mtty.md §13 note 9): the sample treats INTx as edge events, so a condition that arose while
    /// the line was masked is lost and a guest waiting for it can stall. A real INTx line is level
    /// triggered: when the user unmasks and a port still shows an enabled condition in its IIR, the
    /// line is asserted again (signal, auto-mask).
    /// </summary>
    private void ReassertLevel()
    {
        if (_intx is not null && _levelPending()) Raise();
    }

    private void Disable(Mode index)
    {
        if (index == Mode.Intx) DisableIntx();
        else DisableMsi();
    }

    private void DisableIntx()
    {
        if (_intx is null) return;
        _intx.Dispose();
        _intx = null;
        _intxMasked = false;
    }

    private void DisableMsi()
    {
        if (_msi is null) return;
        _msi.Dispose();
        _msi = null;
    }
}
