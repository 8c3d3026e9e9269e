using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.VfioUser.Client;
using Umdev.Virtio;

namespace Umdev.Devices.VirtioBlk.Tests;

/// <summary>
/// A small virtio-blk guest driver in C#, on the vfio-user socket: negotiates features, programs queue 0
/// in <see cref="GuestMemory"/>, puts chains on the available ring, rings the doorbell (a region write, as
/// QEMU sends it) and waits for the used ring. Tests build well-formed chains and broken ones with it.
/// </summary>
public sealed class VirtioTestDriver(VfioUserClient client, GuestMemory ram) : IDisposable
{
    private VfioUserClient client = client;

    public const uint Bar = VirtioPciLayout.StructuresBar;
    public const ushort QueueSize = 64;
    public const ulong Desc = GuestMemory.Base, Avail = GuestMemory.Base + 0x1000, Used = GuestMemory.Base + 0x2000;
    public const ulong Tables = GuestMemory.Base + 0x4000;     // indirect tables
    public const ulong Headers = GuestMemory.Base + 0x10000;   // headers and status bytes
    public const ulong Data = GuestMemory.Base + 0x100000;     // data buffers

    private ushort _availIdx, _usedSeen, _nextDesc;

    public VfioUserClient Client => client;

    /// <summary>The guest moved to another daemon: the same RAM and rings, another device (migration).</summary>
    public void MoveTo(VfioUserClient target) => client = target;
    public GuestMemory Ram => ram;

    public ulong OfferedFeatures { get; private set; }

    public ushort UsedSeen => _usedSeen;

    /// <summary>Maps the RAM and brings the device up to DRIVER_OK with <paramref name="features"/> (default: all offered).</summary>
    public void Start(ulong? features = null, ushort queueSize = QueueSize, bool map = true)
    {
        if (map && ram.Fd is not null) client.MapDma(GuestMemory.Base, GuestMemory.Size, VfioDmaProtection.Read | VfioDmaProtection.Write, ram.Fd);
        ram.At(Desc, 0x4000).Clear();
        _availIdx = _usedSeen = _nextDesc = 0;
        WriteStatus(0);
        WriteStatus(VirtioStatus.Acknowledge | VirtioStatus.Driver);
        Write32(0x00, 0); uint lo = Read32(0x04);
        Write32(0x00, 1); uint hi = Read32(0x04);
        OfferedFeatures = lo | (ulong)hi << 32;
        ulong f = features ?? OfferedFeatures;
        Write32(0x08, 0); Write32(0x0c, (uint)f);
        Write32(0x08, 1); Write32(0x0c, (uint)(f >> 32));
        WriteStatus(VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.FeaturesOk);
        Assert.True((Status & VirtioStatus.FeaturesOk) != 0, "the device refused the features");
        ProgramQueue(queueSize, Desc, Avail, Used);
        Write16(0x1c, 1);
        WriteStatus(VirtioStatus.Acknowledge | VirtioStatus.Driver | VirtioStatus.FeaturesOk | VirtioStatus.DriverOk);
    }

    public void ProgramQueue(ushort size, ulong desc, ulong avail, ulong used)
    {
        Write16(0x16, 0);
        Write16(0x18, size);
        Write32(0x20, (uint)desc); Write32(0x24, (uint)(desc >> 32));
        Write32(0x28, (uint)avail); Write32(0x2c, (uint)(avail >> 32));
        Write32(0x30, (uint)used); Write32(0x34, (uint)(used >> 32));
    }

    public VirtioStatus Status => (VirtioStatus)Read8(0x14);

    public void WriteStatus(VirtioStatus s) => client.WriteRegion(Bar, 0x14, [(byte)s]);

    public byte ReadIsr() => Read8(VirtioPciLayout.IsrOffset);

    public byte Read8(ulong offset)
    {
        Span<byte> b = stackalloc byte[1];
        client.ReadRegion(Bar, offset, b);
        return b[0];
    }

    public ushort Read16(ulong offset)
    {
        Span<byte> b = stackalloc byte[2];
        client.ReadRegion(Bar, offset, b);
        return BinaryPrimitives.ReadUInt16LittleEndian(b);
    }

    public uint Read32(ulong offset)
    {
        Span<byte> b = stackalloc byte[4];
        client.ReadRegion(Bar, offset, b);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    public ulong Read64(ulong offset)
    {
        Span<byte> b = stackalloc byte[8];
        client.ReadRegion(Bar, offset, b);
        return BinaryPrimitives.ReadUInt64LittleEndian(b);
    }

    public void Write16(ulong offset, ushort v)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, v);
        client.WriteRegion(Bar, offset, b);
    }

    public void Write32(ulong offset, uint v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        client.WriteRegion(Bar, offset, b);
    }

    /// <summary>Writes descriptor <paramref name="index"/> of the table at <paramref name="table"/>.</summary>
    public void SetDesc(ulong table, int index, ulong addr, uint len, ushort flags, ushort next)
    {
        var d = ram.At(table + (ulong)index * 16, 16);
        BinaryPrimitives.WriteUInt64LittleEndian(d, addr);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], len);
        BinaryPrimitives.WriteUInt16LittleEndian(d[12..], flags);
        BinaryPrimitives.WriteUInt16LittleEndian(d[14..], next);
    }

    /// <summary>Puts <paramref name="head"/> on the available ring (no doorbell).</summary>
    public void Publish(ushort head)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(ram.At(Avail + 4 + 2UL * (ulong)(_availIdx % QueueSize), 2), head);
        Interlocked.MemoryBarrier();
        _availIdx++;
        BinaryPrimitives.WriteUInt16LittleEndian(ram.At(Avail + 2, 2), _availIdx);
    }

    /// <summary>The doorbell of queue 0 (a REGION_WRITE, as QEMU forwards the guest's write).</summary>
    public void Kick() => Write16(VirtioPciLayout.NotifyOffset, 0);

    public ushort UsedIdx => BinaryPrimitives.ReadUInt16LittleEndian(ram.At(Used + 2, 2));

    /// <summary>Waits for the next used element; null if none came within the time.</summary>
    public (uint Id, uint Len)? WaitUsed(int timeoutMs = 10_000)
    {
        long deadline = Environment.TickCount64 + timeoutMs;
        while (Volatile.Read(ref ram.At(Used + 2, 2)[0]) == (byte)_usedSeen && UsedIdx == _usedSeen)
        {
            if (Environment.TickCount64 > deadline) return null;
            client.ServeRequests(1); // the device's DMA_READ/DMA_WRITE, for memory mapped without a descriptor
        }
        var e = ram.At(Used + 4 + 8UL * (ulong)(_usedSeen % QueueSize), 8);
        _usedSeen++;
        // As Linux does with EVENT_IDX: interrupt me for the next completion (used_event = what I have seen).
        BinaryPrimitives.WriteUInt16LittleEndian(ram.At(Avail + 4 + 2UL * QueueSize, 2), _usedSeen);
        return (BinaryPrimitives.ReadUInt32LittleEndian(e), BinaryPrimitives.ReadUInt32LittleEndian(e[4..]));
    }

    /// <summary>Waits for the next used element or DEVICE_NEEDS_RESET (then null), whichever comes first.</summary>
    public (uint Id, uint Len)? WaitUsedOrNeedsReset(int timeoutMs)
    {
        long deadline = Environment.TickCount64 + timeoutMs;
        while (Environment.TickCount64 < deadline)
        {
            if (WaitUsed(0) is { } used) return used;
            if ((Status & VirtioStatus.DeviceNeedsReset) != 0) return WaitUsed(0);
            Thread.Sleep(1);
        }
        return null;
    }

    /// <summary>Waits until the device sets DEVICE_NEEDS_RESET (or the time runs out).</summary>
    public bool WaitNeedsReset(int timeoutMs = 10_000)
    {
        long deadline = Environment.TickCount64 + timeoutMs;
        while ((Status & VirtioStatus.DeviceNeedsReset) == 0)
        {
            if (Environment.TickCount64 > deadline) return false;
            Thread.Sleep(2);
        }
        return true;
    }

    /// <summary>
    /// One well-formed block request: header, the data split into <paramref name="pieces"/> buffers, status;
    /// direct or through an indirect table. Returns the status byte and the used length.
    /// </summary>
    public (byte Status, uint Len) Request(uint type, ulong sector, Span<byte> data, bool writeToDevice, int pieces = 1, bool indirect = false)
    {
        var (head, status) = Build(type, sector, data, writeToDevice, pieces, indirect);
        Publish(head);
        Kick();
        var used = WaitUsed() ?? throw new TimeoutException($"no completion; device status {Status}");
        Assert.Equal(head, (ushort)used.Id);
        if (!writeToDevice) ram.At(Data, data.Length).CopyTo(data);
        return (ram.At(status, 1)[0], used.Len);
    }

    /// <summary>Lays out a request in RAM (data at <see cref="Data"/>); returns its head and the status byte's address.</summary>
    public (ushort Head, ulong Status) Build(uint type, ulong sector, ReadOnlySpan<byte> data, bool writeToDevice, int pieces = 1, bool indirect = false)
    {
        ulong header = Headers + (ulong)(_nextDesc % QueueSize) * 32;
        ulong status = header + 16;
        var h = ram.At(header, 16);
        BinaryPrimitives.WriteUInt32LittleEndian(h, type);
        BinaryPrimitives.WriteUInt32LittleEndian(h[4..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(h[8..], sector);
        ram.At(status, 1)[0] = 0xff;
        if (writeToDevice) data.CopyTo(ram.At(Data, data.Length));
        else ram.At(Data, data.Length).Fill(0xee);

        var buffers = new List<(ulong, uint, ushort)> { (header, 16, 0) };
        int step = data.Length == 0 ? 0 : (data.Length + pieces - 1) / pieces;
        for (int at = 0; at < data.Length; at += step)
            buffers.Add((Data + (ulong)at, (uint)Math.Min(step, data.Length - at), writeToDevice ? (ushort)0 : (ushort)2));
        buffers.Add((status, 1, 2));

        ushort head = (ushort)(_nextDesc % QueueSize);
        if (indirect)
        {
            ulong table = Tables + (ulong)head * 0x400;
            for (int i = 0; i < buffers.Count; i++)
            {
                var (a, l, f) = buffers[i];
                SetDesc(table, i, a, l, (ushort)(f | (i + 1 < buffers.Count ? 1 : 0)), (ushort)(i + 1));
            }
            SetDesc(Desc, head, table, (uint)buffers.Count * 16, 4, 0);
            _nextDesc++;
        }
        else
        {
            for (int i = 0; i < buffers.Count; i++)
            {
                var (a, l, f) = buffers[i];
                int index = (head + i) % QueueSize;
                SetDesc(Desc, index, a, l, (ushort)(f | (i + 1 < buffers.Count ? 1 : 0)), (ushort)((index + 1) % QueueSize));
            }
            _nextDesc += (ushort)buffers.Count;
        }
        return (head, status);
    }

    public void Dispose() => client.Dispose();
}
