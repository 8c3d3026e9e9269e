using Umdev.Interop;

namespace Umdev.Vfio;

/// <summary>
/// The interrupts of one device: the eventfds a user attached with SET_IRQS and the driver's side
/// (<see cref="Raise(uint)"/>, <see cref="SetLevel"/>, <see cref="Trigger"/>). Drivers never parse SET_IRQS.
/// INTx, MSI and MSI-X exclude each other: one is enabled at a time, and switching needs a disable
/// first. ERR and REQ are independent of them. Thread-safe; drivers may raise under their own locks.
/// </summary>
public sealed class VfioInterrupts
{
    private readonly Lock _lock = new();
    private readonly EventFdReference?[][] _vectors;
    private uint _mode = NoMode;
    private bool _intxMasked;
    private bool _intxLevel;
    private bool _intxPending; // an event was raised while masked
    private bool _closed;

    private const uint NoMode = uint.MaxValue;

    /// <summary>Interrupts as <paramref name="spec"/> declares them, none enabled.</summary>
    public VfioInterrupts(VfioInterruptSpec spec)
    {
        Spec = spec;
        _vectors = new EventFdReference?[VfioPci.NumIrqs][];
        for (uint i = 0; i < VfioPci.NumIrqs; i++) _vectors[i] = spec.VectorsOf(i) == 0 ? [] : new EventFdReference?[spec.VectorsOf(i)];
    }

    /// <summary>What the driver declared.</summary>
    public VfioInterruptSpec Spec { get; }

    /// <summary>What an INTx unmask does while the line is asserted (default: <see cref="VfioIntxUnmask.Level"/>).</summary>
    public VfioIntxUnmask IntxUnmask { get; init; } = VfioIntxUnmask.Level;

    /// <summary>The index of the enabled mode (INTx, MSI or MSI-X), or null.</summary>
    public uint? EnabledMode
    {
        get { lock (_lock) return _mode == NoMode ? null : _mode; }
    }

    /// <summary>How many eventfds users have attached, over every index (diagnostics, tests).</summary>
    public int AttachedCount
    {
        get
        {
            lock (_lock)
            {
                int n = 0;
                foreach (var slots in _vectors)
                    foreach (var slot in slots) n += slot is null ? 0 : 1;
                return n;
            }
        }
    }

    /// <summary>Whether <paramref name="index"/> has at least one vector.</summary>
    public bool Declares(uint index) => index < VfioPci.NumIrqs && Spec.VectorsOf(index) > 0;

    /// <summary>GET_IRQ_INFO of a declared index; EINVAL for any other.</summary>
    public VfioIrqInfo GetInfo(uint index)
    {
        uint count = index < VfioPci.NumIrqs ? Spec.VectorsOf(index) : 0;
        if (count == 0) ThrowHelper.Throw(Errno.EINVAL, $"no IRQ index {index}");
        var flags = index switch
        {
            VfioPci.IntxIrqIndex => VfioIrqInfoFlags.EventFd | VfioIrqInfoFlags.Maskable | VfioIrqInfoFlags.Automasked,
            VfioPci.MsiIrqIndex => VfioIrqInfoFlags.EventFd | VfioIrqInfoFlags.NoResize,
            _ => VfioIrqInfoFlags.EventFd, // MSI-X vectors may be added one at a time, as vfio-pci allows
        };
        return new VfioIrqInfo(index, flags, count);
    }

    /// <summary>
    /// One event on <paramref name="vector"/> through the enabled mode: MSI or MSI-X signal the vector's
    /// eventfd; INTx asserts the line and, unless masked, signals and auto-masks it until the user
    /// unmasks. Nothing happens with no mode enabled or no eventfd attached.
    /// </summary>
    public void Raise(uint vector = 0)
    {
        lock (_lock)
        {
            if (_mode == VfioPci.IntxIrqIndex)
            {
                _intxLevel = true;
                if (_intxMasked) _intxPending = true;
                SignalIntx();
            }
            else if (_mode != NoMode && vector < (uint)_vectors[_mode].Length)
            {
                _vectors[_mode][vector]?.Signal();
            }
        }
    }

    /// <summary>
    /// The INTx level the device drives now, without signalling. A line still asserted when the user
    /// unmasks is signalled again as <see cref="IntxUnmask"/> says; one lowered is not, and an event
    /// raised while masked is forgotten once its line is lowered.
    /// </summary>
    public void SetLevel(bool asserted)
    {
        lock (_lock)
        {
            _intxLevel = asserted;
            _intxPending &= asserted;
        }
    }

    /// <summary>Lowers the INTx line (<see cref="SetLevel"/> false).</summary>
    public void Lower() => SetLevel(false);

    /// <summary>Signals the single vector of ERR or REQ; false when the user attached no eventfd to it.</summary>
    public bool Trigger(uint index)
    {
        if (index is not (VfioPci.ErrIrqIndex or VfioPci.ReqIrqIndex))
            throw new ArgumentOutOfRangeException(nameof(index), "only ERR and REQ are triggered directly");
        lock (_lock)
        {
            var trigger = _vectors[index].Length > 0 ? _vectors[index][0] : null;
            trigger?.Signal();
            return trigger is not null;
        }
    }

    /// <summary>Releases every eventfd (the device's last close, its removal). After <paramref name="forever"/>, SET_IRQS fails with ENODEV.</summary>
    public void DisableAll(bool forever = false)
    {
        lock (_lock)
        {
            for (uint i = 0; i < VfioPci.NumIrqs; i++) Release(i, 0, (uint)_vectors[i].Length);
            _mode = NoMode;
            _intxMasked = false;
            _closed |= forever;
        }
    }

    /// <summary>
    /// VFIO_DEVICE_SET_IRQS. <paramref name="numIrqs"/> is the IRQ count the header is validated
    /// against (the device's index count, as the mdev samples pass it). No action bit, or several: ENOTTY.
    /// </summary>
    public void SetIrqs(in VfioIrqSet set, uint numIrqs) => SetIrqs(set, numIrqs, withoutActionSucceeds: false);

    /// <summary>SET_IRQS; <paramref name="withoutActionSucceeds"/>: see <see cref="VfioCompatibility.SetIrqsWithoutAction"/>.</summary>
    internal void SetIrqs(in VfioIrqSet set, uint numIrqs, bool withoutActionSucceeds)
    {
        set.ValidateAndPrepare(numIrqs, VfioPci.NumIrqs);
        lock (_lock)
        {
            if (_closed) ThrowHelper.Throw(Errno.ENODEV, "device removed");
            if (_vectors[set.Index].Length == 0) ThrowHelper.Throw(Errno.ENOTTY, $"IRQ index {set.Index} is not supported");
            switch (set.Action)
            {
                case VfioIrqSetFlags.ActionMask or VfioIrqSetFlags.ActionUnmask:
                    if (set.Index != VfioPci.IntxIrqIndex) ThrowHelper.Throw(Errno.ENOTTY, $"IRQ index {set.Index} cannot be masked");
                    MaskIntx(set);
                    break;
                case VfioIrqSetFlags.ActionTrigger:
                    if (set.Index is VfioPci.ErrIrqIndex or VfioPci.ReqIrqIndex) SetSignal(set);
                    else SetTrigger(set);
                    break;
                default:
                    // No action bit, or several: vfio-pci finds no handler; the samples match no case and succeed.
                    if (!withoutActionSucceeds) ThrowHelper.Throw(Errno.ENOTTY, "SET_IRQS needs exactly one action");
                    break;
            }
        }
    }

    private void MaskIntx(in VfioIrqSet set)
    {
        if (_mode != VfioPci.IntxIrqIndex || set.Start != 0 || set.Count != 1)
            ThrowHelper.Throw(Errno.EINVAL, "INTx is not enabled");
        if (set.DataType == VfioIrqSetFlags.DataEventFd) ThrowHelper.Throw(Errno.ENOTTY, "no mask/unmask eventfd support");
        if (set.DataType == VfioIrqSetFlags.DataBool && set.Data[0] == 0) return;
        bool mask = set.Action == VfioIrqSetFlags.ActionMask;
        _intxMasked = mask;
        if (mask) return;
        // A line still asserted at unmask is signalled again (the guest would otherwise wait for an edge
        // that never comes), always or only for events the mask swallowed.
        bool again = _intxLevel && IntxUnmask switch
        {
            VfioIntxUnmask.Level => true,
            VfioIntxUnmask.Pending => _intxPending,
            _ => false,
        };
        _intxPending = false;
        if (again) SignalIntx();
    }

    /// <summary>TRIGGER on INTx, MSI or MSI-X: attach or detach eventfds, disable, or fire (loopback).</summary>
    private void SetTrigger(in VfioIrqSet set)
    {
        uint index = set.Index;
        uint vectors = (uint)_vectors[index].Length;
        if (_mode == index && set.Count == 0 && set.DataType == VfioIrqSetFlags.DataNone)
        {
            Release(index, 0, vectors);
            _mode = NoMode;
            return;
        }
        if ((_mode != index && _mode != NoMode) || set.Count == 0 || set.Start >= vectors || set.Count > vectors - set.Start)
            ThrowHelper.Throw(Errno.EINVAL, $"cannot set IRQ index {index} vectors {set.Start}+{set.Count}");
        if (set.DataType == VfioIrqSetFlags.DataEventFd)
        {
            Release(index, set.Start, set.Count);
            if (index == VfioPci.IntxIrqIndex) _intxMasked = false;
            try
            {
                for (uint i = 0; i < set.Count; i++)
                    _vectors[index][set.Start + i] = set.EventFds[(int)i]?.AddReference(); // EBADF: a closed descriptor
            }
            finally
            {
                _mode = Array.Exists(_vectors[index], v => v is not null) ? index : (_mode == index ? NoMode : _mode);
            }
            return;
        }
        if (_mode != index) ThrowHelper.Throw(Errno.EINVAL, $"IRQ index {index} is not enabled");
        for (uint i = 0; i < set.Count; i++)
        {
            if (set.DataType == VfioIrqSetFlags.DataBool && set.Data[(int)i] == 0) continue;
            if (index == VfioPci.IntxIrqIndex) SignalIntx();
            else _vectors[index][set.Start + i]?.Signal();
        }
    }

    /// <summary>TRIGGER on ERR or REQ: attach, detach or fire their single eventfd.</summary>
    private void SetSignal(in VfioIrqSet set)
    {
        uint index = set.Index;
        if (set.Count == 0 && set.DataType == VfioIrqSetFlags.DataNone)
        {
            Release(index, 0, 1);
            return;
        }
        if (set.Start != 0 || set.Count != 1) ThrowHelper.Throw(Errno.EINVAL, $"IRQ index {index} has one vector");
        if (set.DataType == VfioIrqSetFlags.DataEventFd)
        {
            Release(index, 0, 1);
            _vectors[index][0] = set.EventFds[0]?.AddReference();
        }
        else if (set.DataType == VfioIrqSetFlags.DataNone || set.Data[0] != 0)
        {
            _vectors[index][0]?.Signal();
        }
    }

    private void SignalIntx()
    {
        var line = _vectors[VfioPci.IntxIrqIndex][0];
        if (line is null || _intxMasked) return;
        line.Signal();
        _intxMasked = true; // auto-mask until the user unmasks
    }

    private void Release(uint index, uint start, uint count)
    {
        var slots = _vectors[index];
        for (uint i = start; i < start + count && i < (uint)slots.Length; i++)
        {
            slots[i]?.Dispose();
            slots[i] = null;
        }
        if (index == VfioPci.IntxIrqIndex) _intxMasked = _intxPending = false;
    }
}
