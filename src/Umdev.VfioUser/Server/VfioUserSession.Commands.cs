using System.Buffers.Binary;
using System.Text;
using Microsoft.Extensions.Logging;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.VfioUser.Protocol;

namespace Umdev.VfioUser.Server;

public sealed partial class VfioUserSession
{
    private const int MaxRegionInfoArgsz = 64 * 1024;

    /// <summary>Bounds the per-request eventfd array (the driver then checks against its own IRQ count).</summary>
    private const uint MaxIrqCount = 65536;

    private bool _writeMultiple;
    private bool _copiesLogged;

    /// <summary>VERSION: accept major 0, open the device, answer with capabilities no longer than the request.</summary>
    private int Negotiate(ReadOnlySpan<byte> p, uint requestSize)
    {
        var v = VersionPayload.Parse(p);
        if (v.Major != 0) ThrowHelper.Throw(Errno.ENOTSUP, $"unsupported major version {v.Major}");
        _client = VfioUserCapabilities.Parse(v.Json);
        // Never announce more descriptors than one receive can hold.
        string baseCaps = $"\"max_msg_fds\":{Math.Min(_options.MaxMsgFds, UnixSocket.MaxReceiveFds)},\"max_data_xfer_size\":{_options.MaxDataXferSize}";
        string[] candidates = _options.WriteMultiple
            ? [$"{{\"capabilities\":{{{baseCaps},\"write_multiple\":true}}}}", $"{{\"capabilities\":{{{baseCaps}}}}}", "{}", ""]
            : [$"{{\"capabilities\":{{{baseCaps}}}}}", "{}", ""];
        // QEMU reuses the request buffer for the reply: the reply must not be longer than the request.
        string json = candidates.First(c => VfioUserHeader.Length + VersionPayload.FixedLength + (c.Length == 0 ? 0 : c.Length + 1) <= requestSize);
        var file = _device.Open();
        try
        {
            _dma = _device.AttachDma(_options.MaxDmaMaps);
        }
        catch
        {
            file.Dispose();
            throw;
        }
        _file = file;
        _writeMultiple = json.Contains("write_multiple", StringComparison.Ordinal);
        return VersionPayload.Write(_reply.AsSpan(VfioUserHeader.Length), 0, 0, Encoding.UTF8.GetBytes(json));
    }

    /// <summary>The device-file offset of an access, refusing any that leaves its region's 2^40 window.</summary>
    private ulong FileOffset(uint region, ulong offset, uint count)
    {
        if (count > _options.MaxDataXferSize) ThrowHelper.Throw(Errno.E2BIG, "transfer larger than max_data_xfer_size");
        if (region > VfioPci.MaxRegionIndex || offset > VfioPci.OffsetMask || count > VfioPci.OffsetMask + 1 - offset)
            ThrowHelper.Throw(Errno.EINVAL, "region access out of range");
        return VfioPci.IndexToOffset(region) | offset;
    }

    private int RegionRead(ReadOnlySpan<byte> p, Span<byte> reply)
    {
        var a = RegionAccess.Parse(p, withData: false);
        if (p.Length != RegionAccess.Length) ThrowHelper.Throw(Errno.EINVAL, "REGION_READ carries data");
        ulong at = FileOffset(a.Region, a.Offset, a.Count);
        int n = File.Read(reply.Slice(RegionAccess.Length, (int)a.Count), at);
        RegionAccess.WriteHead(reply, a.Offset, a.Region, (uint)n);
        return RegionAccess.Length + n;
    }

    private int RegionWrite(ReadOnlySpan<byte> p, Span<byte> reply)
    {
        var a = RegionAccess.Parse(p, withData: true);
        ulong at = FileOffset(a.Region, a.Offset, a.Count);
        int n = File.Write(a.Data, at);
        RegionAccess.WriteHead(reply, a.Offset, a.Region, (uint)n);
        return RegionAccess.Length;
    }

    private int RegionWriteMulti(ReadOnlySpan<byte> p, Span<byte> reply)
    {
        if (!_writeMultiple) ThrowHelper.Throw(Errno.ENOSYS, "write_multiple was not negotiated");
        var m = Protocol.RegionWriteMulti.Parse(p);
        for (int i = 0; i < m.Count; i++)
        {
            var a = m[i];
            File.Write(a.Data, FileOffset(a.Region, a.Offset, a.Count));
        }
        BinaryPrimitives.WriteUInt64LittleEndian(reply, (ulong)m.Count);
        return 8;
    }

    private int DmaMap(ReadOnlySpan<byte> p, List<FileDescriptorHandle>? fds)
    {
        var r = DmaMapRequest.Parse(p);
        int fdCount = fds?.Count ?? 0;
        if (fdCount > 1) ThrowHelper.Throw(Errno.EINVAL, "DMA_MAP takes at most one descriptor");
        if (r.Size == 0 || r.Address + (r.Size - 1) < r.Address) ThrowHelper.Throw(Errno.EINVAL, "bad DMA range");
        VfioDmaMemory memory;
        if (fdCount == 1 && MappableDmaFile(fds![0], r.Offset, r.Size))
        {
            memory = new MappedDmaMemory(MemoryMapping.Map(fds[0], r.Offset, r.Size, (r.Flags & VfioDmaProtection.Write) != 0));
        }
        else
        {
            if (fdCount == 1 && !_copiesLogged)
            {
                _copiesLogged = true;
                LogDmaCopied(_device.Name);
            }
            memory = new RemoteDmaMemory(this, r.Address);
        }
        Dma.Map(r.Address, r.Size, r.Flags, memory);
        return 0;
    }

    /// <summary>
    /// Whether the daemon may map client memory passed with DMA_MAP: only a regular file (EINVAL otherwise)
    /// sealed against shrinking, already or now, for the client keeps the descriptor and a mapping past the
    /// file's end faults the daemon on access. A range the sealed file does not cover is EINVAL. False:
    /// the range is served by copies (DMA_READ/DMA_WRITE), as memory passed without a descriptor.
    /// </summary>
    private static bool MappableDmaFile(FileDescriptorHandle fd, ulong offset, ulong size)
    {
        fd.GetRegularFileSize(); // EINVAL for anything but a regular file
        if (!MemFd.TrySealShrink(fd)) return false;
        // Measured after the seal: the size can no longer drop below it.
        long fileSize = fd.GetRegularFileSize();
        if (offset > (ulong)fileSize || size > (ulong)fileSize - offset)
            ThrowHelper.Throw(Errno.EINVAL, "DMA range exceeds the passed file");
        return true;
    }

    private VfioDmaTable Dma => _dma ?? ThrowHelper.Throw<VfioDmaTable>(Errno.ENODEV);

    private int DmaUnmap(ReadOnlySpan<byte> p, Span<byte> reply)
    {
        var r = DmaUnmapRequest.Parse(p);
        if (r.All) Dma.UnmapAll();
        else Dma.Unmap(r.Address, r.Size);
        p[..DmaUnmapRequest.Length].CopyTo(reply);
        return DmaUnmapRequest.Length;
    }

    private int DeviceGetInfo(ReadOnlySpan<byte> p, Span<byte> reply)
    {
        var r = Info16.Parse(p, "DEVICE_GET_INFO");
        if (r.Argsz < VfioDeviceInfo.MinArgsz) ThrowHelper.Throw(Errno.EINVAL, "argsz too small");
        var info = File.GetInfo(r.Argsz);
        return new Info16(Info16.Length, (uint)info.Flags, info.NumRegions, info.NumIrqs).Write(reply);
    }

    private int GetRegionInfo(ReadOnlySpan<byte> p, Span<byte> reply, ref FileDescriptorHandle? replyFd)
    {
        var r = RegionInfoRequest.Parse(p);
        if (r.Argsz < VfioRegionInfo.MinArgsz) ThrowHelper.Throw(Errno.EINVAL, "argsz too small");
        // The model's info: a mappable region's descriptor is borrowed for the send, not duplicated.
        var info = File.Device.GetRegionInfo(r.Index, r.Argsz);
        int n = info.Encode(reply, Math.Min(r.Argsz, MaxRegionInfoArgsz));
        if ((info.Flags & VfioRegionFlags.Mmap) != 0 && info.MmapHandle is { IsInvalid: false, IsClosed: false } fd) replyFd = fd;
        return n;
    }

    private int GetRegionIoFds(ReadOnlySpan<byte> p, Span<byte> reply)
    {
        var r = Info16.Parse(p, "GET_REGION_IO_FDS");
        if (r.Argsz < Info16.Length || r.Flags != 0) ThrowHelper.Throw(Errno.EINVAL, "bad GET_REGION_IO_FDS");
        File.Device.GetRegionInfo(r.A, VfioRegionInfo.MinArgsz); // the index must exist (the model's info: no descriptor to close)
        // No ioeventfds/ioregionfds are offered: every access goes through REGION_READ/WRITE.
        return new Info16(Info16.Length, 0, r.A, 0).Write(reply);
    }

    private int GetIrqInfo(ReadOnlySpan<byte> p, Span<byte> reply)
    {
        var r = Info16.Parse(p, "DEVICE_GET_IRQ_INFO");
        var info = File.GetIrqInfo(r.A, r.Argsz);
        return new Info16(Info16.Length, (uint)info.Flags, info.Index, info.Count).Write(reply);
    }

    private int SetIrqs(ReadOnlySpan<byte> p, List<FileDescriptorHandle>? fds)
    {
        var r = SetIrqsPayload.Parse(p);
        var flags = (VfioIrqSetFlags)r.Flags;
        var dataType = flags & VfioIrqSetFlags.DataTypeMask;
        int fdCount = fds?.Count ?? 0;
        if (dataType != VfioIrqSetFlags.DataEventFd)
        {
            if (fdCount > 0) ThrowHelper.Throw(Errno.EINVAL, "descriptors with a non-eventfd SET_IRQS");
            File.SetIrqs(new VfioIrqSet(flags, r.Index, r.Start, r.Count, r.Data, default, r.Argsz));
            return 0;
        }
        // Eventfds travel as SCM_RIGHTS: either one per entry (assign) or none (de-assign).
        if (r.Count > MaxIrqCount || (fdCount != 0 && fdCount != r.Count))
            ThrowHelper.Throw(Errno.EINVAL, "SET_IRQS descriptor count does not match count");
        var eventFds = new EventFd?[r.Count];
        try
        {
            for (int i = 0; i < fdCount; i++) eventFds[i] = EventFd.Adopt(fds![i]);
            // The kernel structure carries the fds inline: argsz = 20 + 4 per entry.
            uint argsz = SetIrqsPayload.Length + 4 * r.Count;
            File.SetIrqs(new VfioIrqSet(flags, r.Index, r.Start, r.Count, default, eventFds, argsz));
        }
        finally
        {
            // The driver took its own references; ours go now.
            foreach (var e in eventFds) e?.Dispose();
        }
        return 0;
    }

    [LoggerMessage(EventId = VfioUserLogEvents.DmaCopiedUnsealed, Level = LogLevel.Information,
        Message = "vfio-user {Device}: DMA memory came with a descriptor that is not sealed against shrinking and cannot be sealed; it is reached by DMA_READ/DMA_WRITE copies instead of a mapping (slower; QEMU's memory-backend-memfd seals by default)")]
    private partial void LogDmaCopied(string device);
}
