using Umdev.Vfio;
using Umdev.Vfio.Pci;

namespace Umdev.Virtio;

/// <summary>
/// A modern virtio-pci function (VIRTIO 1.2 §4.1) as a VFIO device: PCI configuration space with the
/// virtio capabilities, BAR4 holding common configuration, ISR, device configuration and doorbells,
/// MSI-X in BAR1 (QEMU emulates the table) or INTx, and one <see cref="SplitVirtqueue"/> per queue served
/// by a thread of its own. A device type derives from it and supplies its features, its configuration
/// bytes and <see cref="ProcessRequest"/>; the transport does the rest, including migration of the
/// transport state. Guest memory is reached only through the client's DMA mappings of the
/// <see cref="VfioDevice"/> given to <see cref="Bind"/>.
/// </summary>
public abstract partial class VirtioPciFunction : IVfioDeviceOps
{
    /// <summary>VIRTIO_MSI_NO_VECTOR: no MSI-X vector for this source.</summary>
    public const ushort NoVector = 0xffff;

    private const byte IsrQueue = 1, IsrConfig = 2;

    private readonly Lock _lock = new();
    private readonly Lock _isrLock = new();
    private readonly SplitVirtqueue[] _queues;
    private readonly VirtqueueWorker?[] _workers;
    private readonly int _deviceConfigLength;
    private readonly int _pciCfg;
    private VfioDevice? _device;
    private int _status;
    private byte _isr;
    private uint _deviceFeatureSelect, _driverFeatureSelect;
    private ulong _driverFeatures;
    private ushort _queueSelect, _configVector = NoVector;
    private volatile bool _frozen;
    private string? _lastError;

    /// <param name="name">The ops name (diagnostics).</param>
    /// <param name="config">The device's PCI configuration layout (<see cref="VirtioPciLayout.Describe"/>; keep it static).</param>
    /// <param name="queueCount">Virtqueues of the device.</param>
    /// <param name="queueSize">The largest size of each queue.</param>
    /// <param name="deviceConfigLength">Bytes of device configuration (as given to <see cref="VirtioPciLayout.Describe"/>).</param>
    protected VirtioPciFunction(string name, PciConfigLayout config, int queueCount, ushort queueSize, int deviceConfigLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(queueCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(deviceConfigLength, VirtioPciLayout.DeviceLength);
        Name = name;
        _pciCfg = VirtioPciLayout.FindPciCfg(config.CreateSpace());
        _deviceConfigLength = deviceConfigLength;
        _queues = new SplitVirtqueue[queueCount];
        for (int i = 0; i < queueCount; i++) _queues[i] = new SplitVirtqueue(i, queueSize);
        _workers = new VirtqueueWorker?[queueCount];
        Layout = new VfioDeviceLayout
        {
            Regions =
            [
                new ConfigRegion(this, config), // BAR1, which holds only the MSI-X table and PBA, the model serves
                new VfioEmulatedRegion(VirtioPciLayout.StructuresBar, VirtioPciLayout.StructuresBarSize, ReadStructures, WriteStructures),
            ],
        };
        Interrupts = Layout.Interrupts; // INTA# and the MSI-X table the config space declares
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public VfioDeviceLayout Layout { get; }

    /// <summary>The interrupts (INTx and the MSI-X vectors: 0 for configuration, then one per queue as the driver assigns them).</summary>
    protected VfioInterrupts Interrupts { get; }

    /// <summary>The device-specific feature bits offered (the transport adds VERSION_1, INDIRECT_DESC and EVENT_IDX).</summary>
    protected abstract ulong DeviceFeatures { get; }

    /// <summary>device_status.</summary>
    public VirtioStatus Status => (VirtioStatus)Volatile.Read(ref _status);

    /// <summary>Why the device last set DEVICE_NEEDS_RESET (diagnostics), or null.</summary>
    public string? LastError => Volatile.Read(ref _lastError);

    /// <summary>
    /// Gives the function the VFIO device it was registered as (its DMA API is how requests reach guest
    /// memory); call once, right after <c>new VfioDevice(name, this)</c>.
    /// </summary>
    public void Bind(VfioDevice device)
    {
        if (device.Ops != this) throw new ArgumentException("the VFIO device was registered with other ops", nameof(device));
        if (Interlocked.CompareExchange(ref _device, device, null) is not null) throw new InvalidOperationException("already bound");
    }

    /// <summary>Copies device configuration bytes (offset and length inside the declared length).</summary>
    protected abstract void ReadDeviceConfig(int offset, Span<byte> data);

    /// <summary>
    /// Serves one chain taken from queue <paramref name="queue"/>, on that queue's thread, and returns
    /// the bytes written into its device-writable buffers. Throw <see cref="VirtqueueException"/> for a
    /// request the device must not act on (DEVICE_NEEDS_RESET follows); answer device errors in the request.
    /// </summary>
    protected abstract uint ProcessRequest(int queue, VirtqueueChain chain);

    /// <inheritdoc/>
    public virtual void OpenDevice() { }

    /// <summary>Last close: the queues stop and the function returns to its reset state for the next user.</summary>
    public virtual void CloseDevice()
    {
        lock (_lock)
        {
            DeviceReset();
            _frozen = false;
        }
    }

    /// <summary>VFIO_DEVICE_RESET: a virtio reset (PCI configuration space is kept, as the VMM restores it).</summary>
    public void Reset()
    {
        lock (_lock) DeviceReset();
    }

    /// <summary>Stops the queue threads for good (the driver's remove, when the device is going away).</summary>
    public void Shutdown()
    {
        lock (_lock) StopWorkers();
    }

    /// <summary>Config space with the PCI configuration access window (§4.1.4.9); the model serialises its accesses.</summary>
    private sealed class ConfigRegion(VirtioPciFunction function, PciConfigLayout layout) : VfioPciConfigRegion(layout)
    {
        protected override void OnRead(PciConfigSpace space, int offset, Span<byte> data)
        {
            if (function.TouchesWindowData(offset, data.Length)) function.ReadThroughWindow(space);
            space.Read(offset, data);
        }

        protected override void OnWrite(PciConfigSpace space, int offset, ReadOnlySpan<byte> data) => function.WriteConfig(space, offset, data);
    }

    private void WriteConfig(PciConfigSpace config, int at, ReadOnlySpan<byte> data)
    {
        if (_pciCfg < 0 || at + data.Length <= _pciCfg + PciCfgBar || at >= _pciCfg + PciCfgEnd)
        {
            config.Write(at, data);
            return;
        }
        // The window's bar, offset, length and data are the driver's to write; the rest of the
        // capability stays read-only (config accesses never straddle those dword-aligned fields).
        for (int i = 0; i < data.Length; i++)
        {
            int o = at + i;
            if (o == _pciCfg + PciCfgBar || (o >= _pciCfg + PciCfgOffset && o < _pciCfg + PciCfgEnd)) config.Store(o, data.Slice(i, 1));
            else config.Write(o, data.Slice(i, 1));
        }
        if (TouchesWindowData(at, data.Length) && WindowTarget(config, out int target, out int length))
        {
            Span<byte> value = stackalloc byte[4];
            config.Read(_pciCfg + PciCfgData, value);
            WriteStructures((ulong)target, value[..length]);
        }
    }

    // VIRTIO_PCI_CAP_PCI_CFG (§4.1.4.9): bar at +4, offset at +8, length at +12, pci_cfg_data at +16..+19.
    private const int PciCfgBar = 4, PciCfgOffset = 8, PciCfgLength = 12, PciCfgData = 16, PciCfgEnd = 20;

    private bool TouchesWindowData(int at, int length) =>
        _pciCfg >= 0 && at < _pciCfg + PciCfgEnd && at + length > _pciCfg + PciCfgData;

    /// <summary>The BAR4 range the window points at: a 1-, 2- or 4-byte access, aligned, inside the BAR; else none.</summary>
    private bool WindowTarget(PciConfigSpace config, out int target, out int length)
    {
        uint offset = config.ReadUInt32(_pciCfg + PciCfgOffset);
        uint size = config.ReadUInt32(_pciCfg + PciCfgLength);
        target = (int)Math.Min(offset, int.MaxValue);
        length = (int)Math.Min(size, 4);
        return config.ReadByte(_pciCfg + PciCfgBar) == VirtioPciLayout.StructuresBar && size is 1 or 2 or 4 &&
            offset % size == 0 && offset <= VirtioPciLayout.StructuresBarSize - size;
    }

    /// <summary>A read of pci_cfg_data reads the target first (an invalid target reads zeros).</summary>
    private void ReadThroughWindow(PciConfigSpace config)
    {
        Span<byte> value = stackalloc byte[4];
        value.Clear();
        if (WindowTarget(config, out int target, out int length)) ReadStructures((ulong)target, value[..length]);
        config.Store(_pciCfg + PciCfgData, value);
    }

    private void ReadStructures(ulong offset, Span<byte> data)
    {
        data.Clear();
        int at = (int)offset;
        if (Inside(at, data.Length, VirtioPciLayout.CommonOffset, VirtioPciLayout.CommonLength))
        {
            Span<byte> image = stackalloc byte[VirtioPciLayout.CommonLength];
            lock (_lock) CommonImage(image);
            image.Slice(at - VirtioPciLayout.CommonOffset, data.Length).CopyTo(data);
        }
        else if (Inside(at, data.Length, VirtioPciLayout.IsrOffset, VirtioPciLayout.IsrLength))
        {
            data[0] = ReadAndClearIsr();
        }
        else if (Inside(at, data.Length, VirtioPciLayout.DeviceOffset, _deviceConfigLength))
        {
            lock (_lock) ReadDeviceConfig(at - VirtioPciLayout.DeviceOffset, data);
        }
        // Anything else (notify area, gaps, accesses straddling structures) reads as zeros.
    }

    private void WriteStructures(ulong offset, ReadOnlySpan<byte> data)
    {
        int at = (int)offset;
        if (Inside(at, data.Length, VirtioPciLayout.NotifyOffset, _queues.Length * VirtioPciLayout.NotifyOffMultiplier))
            Notify((at - VirtioPciLayout.NotifyOffset) / VirtioPciLayout.NotifyOffMultiplier);
        else if (Inside(at, data.Length, VirtioPciLayout.CommonOffset, VirtioPciLayout.CommonLength))
        {
            lock (_lock) WriteCommon(at - VirtioPciLayout.CommonOffset, data);
        }
        // Writes to the ISR, to device configuration (no writable field is offered), gaps or straddling structures are ignored.
    }

    private static bool Inside(int at, int length, int start, int size) => at >= start && length <= size && at - start <= size - length;

    /// <summary>A doorbell: wake the queue's thread (nothing before DRIVER_OK, or once the device needs a reset).</summary>
    private void Notify(int queue)
    {
        var worker = Volatile.Read(ref _workers[queue]);
        worker?.Kick();
    }

    private byte ReadAndClearIsr()
    {
        lock (_isrLock)
        {
            byte isr = _isr;
            _isr = 0;
            Interrupts.Lower();
            return isr;
        }
    }

    /// <summary>One interrupt: the MSI-X vector when MSI-X is on, else the ISR bit and INTx.</summary>
    private void RaiseInterrupt(ushort vector, byte isrBit)
    {
        if (Interrupts.EnabledMode == VfioPci.MsixIrqIndex)
        {
            if (vector != NoVector) Interrupts.Raise(vector);
            return;
        }
        lock (_isrLock)
        {
            _isr |= isrBit;
            Interrupts.Raise();
        }
    }

    /// <summary>
    /// The driver broke a rule the device cannot work around: DEVICE_NEEDS_RESET, a configuration
    /// interrupt, and the queues stop taking requests until the driver resets the device.
    /// </summary>
    private void SetNeedsReset(string reason)
    {
        Volatile.Write(ref _lastError, reason);
        int old = Interlocked.Or(ref _status, (int)VirtioStatus.DeviceNeedsReset);
        if ((old & (int)VirtioStatus.DeviceNeedsReset) == 0) RaiseInterrupt(Volatile.Read(ref _configVector), IsrConfig);
    }

    /// <summary>The queue thread's work: take chains until the ring is empty, with doorbells off meanwhile.</summary>
    private void ServiceQueue(SplitVirtqueue queue)
    {
        var dma = _device?.Dma;
        if (dma is null) return; // no client attached: nothing can be read
        try
        {
            while (!_frozen && (Status & (VirtioStatus.DeviceNeedsReset | VirtioStatus.DriverOk)) == VirtioStatus.DriverOk)
            {
                queue.SetNotifications(dma, false);
                while (!_frozen && queue.Pop(dma) is { } chain)
                {
                    uint written = ProcessRequest(queue.Index, chain);
                    if (queue.Push(dma, chain.Head, written)) RaiseInterrupt(queue.MsixVector, IsrQueue);
                    if ((Status & VirtioStatus.DeviceNeedsReset) != 0) return;
                }
                if (_frozen) return;
                queue.SetNotifications(dma, true);
                if (!queue.HasAvailable(dma)) return;
            }
        }
        catch (VirtqueueException e)
        {
            SetNeedsReset(e.Message);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            SetNeedsReset($"queue {queue.Index}: {e.GetType().Name}: {e.Message}");
        }
    }

    private void StartWorkers()
    {
        for (int i = 0; i < _queues.Length; i++)
        {
            var q = _queues[i];
            if (q.Enabled && _workers[i] is null)
                Volatile.Write(ref _workers[i], new VirtqueueWorker($"virtio q{i} {Name}", () => ServiceQueue(q), paused: _frozen));
        }
    }

    private void StopWorkers()
    {
        for (int i = 0; i < _workers.Length; i++)
        {
            var w = _workers[i];
            Volatile.Write(ref _workers[i], null);
            w?.Dispose();
        }
    }

    /// <summary>Writing 0 to device_status (or a VFIO reset): every register and queue to its power-on value.</summary>
    private void DeviceReset()
    {
        StopWorkers();
        foreach (var q in _queues) q.Reset();
        Volatile.Write(ref _status, 0);
        _deviceFeatureSelect = _driverFeatureSelect = 0;
        Volatile.Write(ref _driverFeatures, 0UL);
        _queueSelect = 0;
        _configVector = NoVector;
        _lastError = null;
        lock (_isrLock)
        {
            _isr = 0;
            Interrupts.Lower();
        }
    }

    /// <summary>Freezes the queues (migration STOP): returns once no request is in progress.</summary>
    private void Freeze()
    {
        lock (_lock)
        {
            _frozen = true;
            foreach (var w in _workers) w?.Pause();
        }
    }

    private void Thaw()
    {
        lock (_lock)
        {
            _frozen = false;
            foreach (var w in _workers) w?.Resume();
        }
    }
}
