using Umdev.Interop;

namespace Umdev.Vfio;

/// <summary>
/// A <c>VFIO_DEVICE_SET_IRQS</c> request. <see cref="Data"/> holds the BOOL bytes; for DATA_EVENTFD the
/// descriptors are in <see cref="EventFds"/> (null entry = −1, de-assign) and <see cref="Argsz"/>
/// still counts 4 bytes per entry, as the kernel structure does.
/// </summary>
public readonly ref struct VfioIrqSet
{
    public const uint MinArgsz = 20;

    public VfioIrqSet(VfioIrqSetFlags flags, uint index, uint start, uint count,
        ReadOnlySpan<byte> data = default, ReadOnlySpan<EventFd?> eventFds = default, uint? argsz = null)
    {
        Flags = flags;
        Index = index;
        Start = start;
        Count = count;
        Data = data;
        EventFds = eventFds;
        uint payload = (flags & VfioIrqSetFlags.DataTypeMask) switch
        {
            VfioIrqSetFlags.DataBool => (uint)data.Length,
            VfioIrqSetFlags.DataEventFd => (uint)eventFds.Length * 4,
            _ => 0,
        };
        Argsz = argsz ?? MinArgsz + payload;
    }

    public uint Argsz { get; }
    public VfioIrqSetFlags Flags { get; }
    public uint Index { get; }
    public uint Start { get; }
    public uint Count { get; }
    public ReadOnlySpan<byte> Data { get; }
    public ReadOnlySpan<EventFd?> EventFds { get; }

    public VfioIrqSetFlags DataType => Flags & VfioIrqSetFlags.DataTypeMask;
    public VfioIrqSetFlags Action => Flags & VfioIrqSetFlags.ActionTypeMask;

    /// <summary>
    /// The kernel's <c>vfio_set_irqs_validate_and_prepare</c>: EINVAL unless argsz ≥ 20, index &lt;
    /// <paramref name="maxIrqType"/>, count &lt; U32_MAX − start, no unknown flags, start and
    /// start + count within <paramref name="numIrqs"/>, exactly one data type, and enough data for
    /// every entry. Returns the data size (count × entry size).
    /// </summary>
    public int ValidateAndPrepare(uint numIrqs, uint maxIrqType)
    {
        if (Argsz < MinArgsz || Index >= maxIrqType || Count >= uint.MaxValue - Start ||
            ((uint)Flags & ~(uint)(VfioIrqSetFlags.DataTypeMask | VfioIrqSetFlags.ActionTypeMask)) != 0)
            ThrowHelper.Throw(Errno.EINVAL, "bad SET_IRQS header");
        if (Start >= numIrqs || Start + Count > numIrqs)
            ThrowHelper.Throw(Errno.EINVAL, "SET_IRQS range outside the device's IRQs");
        uint size = DataType switch
        {
            VfioIrqSetFlags.DataNone => 0,
            VfioIrqSetFlags.DataBool => 1,
            VfioIrqSetFlags.DataEventFd => 4,
            _ => ThrowHelper.Throw<uint>(Errno.EINVAL, "SET_IRQS needs exactly one data type"),
        };
        if (size == 0) return 0;
        ulong needed = (ulong)Count * size;
        if (Argsz - MinArgsz < needed) ThrowHelper.Throw(Errno.EINVAL, "SET_IRQS data shorter than count");
        if (DataType == VfioIrqSetFlags.DataBool && (ulong)Data.Length < needed)
            ThrowHelper.Throw(Errno.EINVAL, "SET_IRQS data shorter than count");
        if (DataType == VfioIrqSetFlags.DataEventFd && (ulong)EventFds.Length < Count)
            ThrowHelper.Throw(Errno.EINVAL, "SET_IRQS eventfds fewer than count");
        return (int)needed;
    }
}
