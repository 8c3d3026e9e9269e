using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.Vfio.Pci;
using Umdev.Virtio;

namespace Umdev.Devices.VirtioBlk;

/// <summary>
/// One virtio-blk disk: a modern virtio-pci function with one request queue, backed by a host file or
/// block device named before a VMM opens it (<see cref="SetBacking"/>). Requests run on the queue's
/// thread, the data moved between guest memory and the file with one vectored system call; FLUSH is fdatasync.
/// </summary>
internal sealed partial class VirtioBlkDevice : VirtioPciFunction
{
    public const ushort QueueSize = 256;

    private static readonly PciConfigLayout Config =
        VirtioPciLayout.Describe(VirtioBlk.DeviceId, (0x01, 0x00, 0x00), msixVectors: 2, VirtioBlk.ConfigLength);

    private readonly Lock _backingLock = new();
    private readonly byte[] _id = new byte[VirtioBlk.IdLength];
    /// <summary>The largest piece of a request moved with one system call when the data must be copied.</summary>
    private const int BounceSize = 2 << 20;

    private readonly IReadOnlyList<string> _diskDirs;
    private VirtioBlkBacking? _backing;
    private bool _readOnly;
    private bool _open;
    private byte[]? _bounce; // the queue thread's, allocated at the first copied transfer
    private Vector? _vector; // the queue thread's, allocated at the first transfer

    /// <param name="uuid">The mdev's UUID: GET_ID answers its last 20 hex digits (where UUIDs made in a row differ).</param>
    /// <param name="diskDirs">The directories a backing file may come from.</param>
    public VirtioBlkDevice(Guid uuid, IReadOnlyList<string> diskDirs) : base("virtio-blk", Config, queueCount: 1, QueueSize, VirtioBlk.ConfigLength)
    {
        _diskDirs = diskDirs;
        System.Text.Encoding.ASCII.GetBytes(uuid.ToString("N").AsSpan(32 - VirtioBlk.IdLength), _id);
    }

    /// <summary>The backing file's path, or null.</summary>
    public string? BackingPath
    {
        get { lock (_backingLock) return _backing?.Path; }
    }

    /// <summary>Whether the disk is read-only: the mode the backing is opened in (the guest sees VIRTIO_BLK_F_RO).</summary>
    public bool ReadOnly
    {
        get { lock (_backingLock) return _readOnly; }
    }

    /// <summary>
    /// Names the backing file (empty: none), opened in the current <see cref="ReadOnly"/> mode. EBUSY while
    /// a user has the device open; the open's errors as <see cref="VirtioBlkBacking.Open"/> gives them.
    /// </summary>
    public void SetBacking(string path)
    {
        lock (_backingLock)
        {
            if (_open) ThrowHelper.Throw(Errno.EBUSY, "the disk is open: its backing cannot change");
            var next = path.Length == 0 ? null : VirtioBlkBacking.Open(path, _diskDirs, _readOnly);
            _backing?.Dispose();
            _backing = next;
        }
    }

    /// <summary>
    /// Sets the mode; a backing already named is opened again in it (on failure nothing changes). EBUSY
    /// while a user has the device open.
    /// </summary>
    public void SetReadOnly(bool readOnly)
    {
        lock (_backingLock)
        {
            if (_open) ThrowHelper.Throw(Errno.EBUSY, "the disk is open: its mode cannot change");
            if (readOnly == _readOnly) return;
            if (_backing is { } current)
            {
                var next = VirtioBlkBacking.Open(current.Path, _diskDirs, readOnly);
                current.Dispose();
                _backing = next;
            }
            _readOnly = readOnly;
        }
    }

    /// <summary>The open freezes the backing until the last close.</summary>
    public override void OpenDevice()
    {
        lock (_backingLock) _open = true;
    }

    public override void CloseDevice()
    {
        base.CloseDevice();
        lock (_backingLock) _open = false;
    }

    /// <summary>Removal: the queue stops and the file is closed.</summary>
    public void Release()
    {
        Shutdown();
        lock (_backingLock)
        {
            _backing?.Dispose();
            _backing = null;
        }
    }

    // Fixed while open, so the queue thread reads it without the lock.
    private VirtioBlkBacking? Backing => Volatile.Read(ref _backing);

    protected override ulong DeviceFeatures =>
        VirtioBlk.SegMax | VirtioBlk.BlkSize | VirtioBlk.Flush | VirtioBlk.Discard | VirtioBlk.WriteZeroes |
        (Backing?.ReadOnly == true ? VirtioBlk.ReadOnly : 0);

    protected override void ReadDeviceConfig(int offset, Span<byte> data)
    {
        Span<byte> c = stackalloc byte[VirtioBlk.ConfigLength];
        c.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(c[VirtioBlk.CapacityOffset..], Backing?.Sectors ?? 0);
        BinaryPrimitives.WriteUInt32LittleEndian(c[VirtioBlk.SegMaxOffset..], QueueSize - 2);
        BinaryPrimitives.WriteUInt32LittleEndian(c[VirtioBlk.BlkSizeOffset..], VirtioBlkBacking.SectorSize);
        BinaryPrimitives.WriteUInt16LittleEndian(c[VirtioBlk.NumQueuesOffset..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(c[VirtioBlk.MaxDiscardSectorsOffset..], VirtioBlk.MaxRangeSectors);
        BinaryPrimitives.WriteUInt32LittleEndian(c[VirtioBlk.MaxDiscardSegOffset..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(c[VirtioBlk.DiscardAlignmentOffset..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(c[VirtioBlk.MaxWriteZeroesSectorsOffset..], VirtioBlk.MaxRangeSectors);
        BinaryPrimitives.WriteUInt32LittleEndian(c[VirtioBlk.MaxWriteZeroesSegOffset..], 1);
        c[VirtioBlk.WriteZeroesMayUnmapOffset] = 1;
        c.Slice(offset, data.Length).CopyTo(data);
    }

    /// <summary>Migration carries the disk's size and mode so a target on another disk is refused.</summary>
    protected override int DeviceStateSize => 9;

    protected override void SaveDeviceState(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination, Backing?.Sectors ?? 0);
        destination[8] = Backing?.ReadOnly == true ? (byte)1 : (byte)0;
    }

    protected override void ValidateDeviceState(ReadOnlySpan<byte> source)
    {
        if (BinaryPrimitives.ReadUInt64LittleEndian(source) != (Backing?.Sectors ?? 0) || source[8] != (Backing?.ReadOnly == true ? 1 : 0))
            ThrowHelper.Throw(Errno.EINVAL, "the target disk's backing differs in size or mode");
    }
}
