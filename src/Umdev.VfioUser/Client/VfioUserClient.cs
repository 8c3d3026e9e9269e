using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.VfioUser.Protocol;
using Umdev.VfioUser.Transport;
using static Umdev.VfioUser.Transport.DescriptorList;

namespace Umdev.VfioUser.Client;

/// <summary>
/// A vfio-user client: the device behind a socket as an <see cref="IVfioClientDevice"/>. Calls are
/// serialised; DMA requests the server sends while a call waits for its reply are answered from the
/// memory registered with <see cref="MapMemory"/>. Errors are <see cref="ErrnoException"/> carrying the
/// server's errno.
/// </summary>
public sealed partial class VfioUserClient : IVfioClientDevice
{
    /// <summary>The largest data transfer the client offers in its VERSION message (1 MiB); longer accesses are split.</summary>
    public const uint MaxDataXferSize = 1 << 20;
    private const int MaxMessage = 16 + 16 + (int)MaxDataXferSize;

    private readonly IVfioUserTransport _transport;
    private readonly VfioUserMessageReader _reader;
    private readonly Lock _lock = new();
    private readonly List<VfioUserClientMemory> _memory = [];
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(MaxMessage);
    private ushort _nextId;

    private VfioUserClient(IVfioUserTransport transport)
    {
        _transport = transport;
        _reader = new VfioUserMessageReader(transport, MaxMessage, 4096);
    }

    /// <summary>The server's capabilities from its VERSION reply.</summary>
    public VfioUserCapabilities ServerCapabilities { get; private set; } = new();

    /// <summary>DMA_READ/DMA_WRITE requests of the server answered so far.</summary>
    public int DmaRequestsServed { get; private set; }

    /// <summary>Connects to a vfio-user socket and negotiates the version.</summary>
    public static VfioUserClient Connect(string socketPath) => Create(new SocketTransport(UnixSocket.Connect(socketPath)));

    /// <summary>Negotiates over an already connected transport (takes ownership of it).</summary>
    public static VfioUserClient Create(IVfioUserTransport transport)
    {
        var client = new VfioUserClient(transport);
        try
        {
            client.Negotiate();
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    private static readonly byte[] ClientCaps = Encoding.UTF8.GetBytes(
        $"{{\"capabilities\":{{\"max_msg_fds\":{UnixSocket.MaxReceiveFds},\"max_data_xfer_size\":{MaxDataXferSize}}}}}");

    private void Negotiate()
    {
        lock (_lock)
        {
            int n = VersionPayload.Write(Payload, 0, 0, ClientCaps);
            var reply = Transact(VfioUserCommand.Version, n, default);
            var v = VersionPayload.Parse(reply);
            if (v.Major != 0) ThrowHelper.Throw(Errno.EPROTO, $"server answered major version {v.Major}");
            ServerCapabilities = VfioUserCapabilities.Parse(v.Json);
        }
    }

    private Span<byte> Payload => _buffer.AsSpan(VfioUserHeader.Length);

    /// <inheritdoc/>
    public VfioDeviceInfo GetInfo(uint argsz = 24)
    {
        lock (_lock)
        {
            new Info16(argsz, 0, 0, 0).Write(Payload);
            var r = Info16.Parse(Transact(VfioUserCommand.DeviceGetInfo, Info16.Length, default), "DEVICE_GET_INFO reply");
            return new VfioDeviceInfo((VfioDeviceFlags)r.Flags, r.A, r.B);
        }
    }

    /// <inheritdoc/>
    public VfioRegionInfo GetRegionInfo(uint index, uint argsz = VfioRegionInfo.MinArgsz)
    {
        lock (_lock)
        {
            while (true)
            {
                uint needed;
                bool capsMissing;
                int n = RegionInfoRequest.Write(Payload, argsz, index);
                var reply = Transact(VfioUserCommand.DeviceGetRegionInfo, n, default, out var fds);
                VfioRegionInfo info;
                try
                {
                    info = VfioUserRegionInfoDecoder.Decode(reply, out needed, out capsMissing);
                }
                catch
                {
                    CloseAll(fds);
                    throw;
                }
                if (capsMissing && needed > argsz && needed <= 64 * 1024)
                {
                    // Like QEMU: ask again with the size the server named.
                    CloseAll(fds);
                    argsz = needed;
                    continue;
                }
                if (fds is { Count: > 1 })
                {
                    CloseAll(fds);
                    ThrowHelper.Throw(Errno.EPROTO, "more than one descriptor with region info");
                }
                if (fds is { Count: 1 }) info = info with { MmapHandle = fds[0] };
                return info;
            }
        }
    }

    /// <inheritdoc/>
    public VfioIrqInfo GetIrqInfo(uint index, uint argsz = VfioIrqInfo.MinArgsz)
    {
        lock (_lock)
        {
            new Info16(argsz, 0, index, 0).Write(Payload);
            var r = Info16.Parse(Transact(VfioUserCommand.DeviceGetIrqInfo, Info16.Length, default), "GET_IRQ_INFO reply");
            return new VfioIrqInfo(r.A, (VfioIrqInfoFlags)r.Flags, r.B);
        }
    }

    /// <inheritdoc/>
    public void SetIrqs(in VfioIrqSet irqSet)
    {
        lock (_lock)
        {
            if (irqSet.DataType != VfioIrqSetFlags.DataEventFd)
            {
                int n = SetIrqsPayload.Write(Payload, (uint)irqSet.Flags, irqSet.Index, irqSet.Start, irqSet.Count, irqSet.Data);
                BinaryPrimitives.WriteUInt32LittleEndian(Payload, irqSet.Argsz);
                Transact(VfioUserCommand.DeviceSetIrqs, n, default);
                return;
            }
            var fds = irqSet.EventFds;
            if ((uint)fds.Length < irqSet.Count) ThrowHelper.Throw(Errno.EINVAL, "fewer eventfds than count");
            if (irqSet.Count == 0)
            {
                int n = SetIrqsPayload.Write(Payload, (uint)irqSet.Flags, irqSet.Index, irqSet.Start, 0, default);
                Transact(VfioUserCommand.DeviceSetIrqs, n, default);
                return;
            }
            // As QEMU does: runs of assigned eventfds travel as descriptors in chunks the server accepts;
            // runs of unassigned entries (-1) become messages with no descriptor.
            int maxFds = (int)Math.Clamp(ServerCapabilities.MaxMsgFds, 1, UnixSocket.MaxReceiveFds);
            var handles = new FileDescriptorHandle[maxFds];
            for (int i = 0; i < (int)irqSet.Count;)
            {
                bool assigned = fds[i] is not null;
                int run = 1;
                while (i + run < (int)irqSet.Count && (fds[i + run] is not null) == assigned && (!assigned || run < maxFds)) run++;
                for (int k = 0; assigned && k < run; k++) handles[k] = fds[i + k]!;
                int n = SetIrqsPayload.Write(Payload, (uint)irqSet.Flags, irqSet.Index, irqSet.Start + (uint)i, (uint)run, default);
                Transact(VfioUserCommand.DeviceSetIrqs, n, assigned ? handles.AsSpan(0, run) : default);
                i += run;
            }
        }
    }

    /// <inheritdoc/>
    public int ReadRegion(uint index, ulong offset, Span<byte> buffer)
    {
        lock (_lock)
        {
            int chunk = TransferChunk;
            int done = 0;
            while (done < buffer.Length)
            {
                int n = Math.Min(chunk, buffer.Length - done);
                RegionAccess.WriteHead(Payload, offset + (ulong)done, index, (uint)n);
                var reply = RegionAccess.Parse(Transact(VfioUserCommand.RegionRead, RegionAccess.Length, default), withData: true);
                if (reply.Count > (uint)n) ThrowHelper.Throw(Errno.E2BIG, "server returned more than asked");
                reply.Data.CopyTo(buffer[done..]);
                done += (int)reply.Count;
                if (reply.Count < (uint)n) break;
            }
            return done;
        }
    }

    /// <inheritdoc/>
    public int WriteRegion(uint index, ulong offset, ReadOnlySpan<byte> buffer)
    {
        lock (_lock)
        {
            int chunk = TransferChunk;
            int done = 0;
            while (done < buffer.Length)
            {
                int n = Math.Min(chunk, buffer.Length - done);
                RegionAccess.WriteHead(Payload, offset + (ulong)done, index, (uint)n);
                buffer.Slice(done, n).CopyTo(Payload[RegionAccess.Length..]);
                var reply = RegionAccess.Parse(Transact(VfioUserCommand.RegionWrite, RegionAccess.Length + n, default), withData: false);
                done += (int)Math.Min(reply.Count, (uint)n);
                if (reply.Count < (uint)n) break;
            }
            return done;
        }
    }

    /// <inheritdoc/>
    public void Reset()
    {
        lock (_lock) Transact(VfioUserCommand.DeviceReset, 0, default);
    }

    /// <summary>DMA_MAP of a range; <paramref name="fd"/> (if any) is passed so the server can map it.</summary>
    public void MapDma(ulong iova, ulong size, VfioDmaProtection protection, FileDescriptorHandle? fd = null, ulong fileOffset = 0)
    {
        lock (_lock)
        {
            int n = new DmaMapRequest { Flags = protection, Offset = fileOffset, Address = iova, Size = size }.Write(Payload);
            if (fd is null) Transact(VfioUserCommand.DmaMap, n, default);
            else Transact(VfioUserCommand.DmaMap, n, [fd]);
        }
    }

    /// <summary>
    /// Allocates client memory (a memfd) at <paramref name="iova"/> and maps it for the device: with
    /// <paramref name="passFd"/> the server maps it directly, otherwise it reaches it through DMA requests
    /// this client answers.
    /// </summary>
    public VfioUserClientMemory MapMemory(ulong iova, ulong size, VfioDmaProtection protection = VfioDmaProtection.Read | VfioDmaProtection.Write, bool passFd = true)
    {
        var memory = new VfioUserClientMemory(iova, size, protection);
        try
        {
            MapDma(iova, size, protection, passFd ? memory.Fd : null);
            lock (_lock) _memory.Add(memory);
            return memory;
        }
        catch
        {
            memory.Dispose();
            throw;
        }
    }

    /// <summary>DMA_UNMAP of exactly a mapped range (or everything with <paramref name="all"/>).</summary>
    public void UnmapDma(ulong iova, ulong size, bool all = false)
    {
        lock (_lock)
        {
            int n = new DmaUnmapRequest { Flags = all ? DmaUnmapRequest.FlagAll : 0, Address = iova, Size = size }.Write(Payload);
            Transact(VfioUserCommand.DmaUnmap, n, default);
            for (int i = _memory.Count - 1; i >= 0; i--)
            {
                if (!all && (_memory[i].Iova != iova || _memory[i].Size != size)) continue;
                _memory[i].Dispose();
                _memory.RemoveAt(i);
            }
        }
    }

    /// <summary>
    /// Answers server requests (DMA_READ/DMA_WRITE from a driver thread) that arrive while no call is in
    /// progress, for up to <paramref name="timeoutMs"/>; returns how many were served. Calls answer such
    /// requests by themselves while they wait for their reply.
    /// </summary>
    public int ServeRequests(int timeoutMs)
    {
        lock (_lock)
        {
            int served = 0;
            long deadline = Environment.TickCount64 + timeoutMs;
            while (_reader.HasBufferedMessage || _transport.WaitReadable((int)Math.Max(0, deadline - Environment.TickCount64)))
            {
                var status = _reader.Read();
                if (status != VfioUserReadStatus.Message)
                    ThrowHelper.Throw(Errno.ECONNRESET, $"vfio-user server closed the connection ({status})");
                var h = _reader.Header;
                if (!h.IsCommand) ThrowHelper.Throw(Errno.EPROTO, $"unexpected reply id {h.Id} while idle");
                ServeRequest(h);
                served++;
                if (Environment.TickCount64 >= deadline) break;
            }
            return served;
        }
    }

    /// <summary>
    /// <see cref="Transact(VfioUserCommand, int, ReadOnlySpan{FileDescriptorHandle}, out List{FileDescriptorHandle}?)"/>
    /// for a reply that carries no descriptors: any that come are closed and the reply is a protocol error.
    /// </summary>
    private ReadOnlySpan<byte> Transact(VfioUserCommand command, int payloadLength, ReadOnlySpan<FileDescriptorHandle> fds)
    {
        var payload = Transact(command, payloadLength, fds, out var replyFds);
        if (replyFds is { Count: > 0 })
        {
            CloseAll(replyFds);
            ThrowHelper.Throw(Errno.EPROTO, $"{command}: unexpected descriptors with the reply");
        }
        return payload;
    }

    /// <summary>Sends a command whose payload is in place and waits for its reply, serving server requests meanwhile.</summary>
    private ReadOnlySpan<byte> Transact(VfioUserCommand command, int payloadLength, ReadOnlySpan<FileDescriptorHandle> fds,
        out List<FileDescriptorHandle>? replyFds)
    {
        ushort id = ++_nextId;
        new VfioUserHeader(id, (ushort)command, (uint)(VfioUserHeader.Length + payloadLength), VfioUserFlags.Command, 0).Write(_buffer);
        _transport.Send(_buffer.AsSpan(0, VfioUserHeader.Length + payloadLength), fds);
        while (true)
        {
            var status = _reader.Read();
            if (status != VfioUserReadStatus.Message)
                ThrowHelper.Throw(Errno.ECONNRESET, $"vfio-user server closed the connection ({status})");
            var h = _reader.Header;
            if (h.IsCommand)
            {
                ServeRequest(h);
                continue;
            }
            if (!h.IsReply || h.Id != id || h.Command != (ushort)command)
                ThrowHelper.Throw(Errno.EPROTO, $"unexpected message id {h.Id} command {h.Command}");
            replyFds = _reader.TakeFds();
            if (h.IsError)
            {
                CloseAll(replyFds);
                ThrowHelper.Throw(h.Error == 0 ? Errno.EIO : (Errno)h.Error, $"{command}: {ErrnoException.Describe((Errno)h.Error)}");
            }
            return _reader.Payload;
        }
    }

    /// <summary>Answers a DMA_READ/DMA_WRITE of the server from registered memory; anything else gets ENOSYS.</summary>
    private void ServeRequest(in VfioUserHeader h)
    {
        Span<byte> head = stackalloc byte[VfioUserHeader.Length + DmaAccess.Length];
        Errno error = Errno.None;
        byte[]? data = null;
        int dataLength = 0;
        try
        {
            if (_reader.Fds.Count > 0) ThrowHelper.Throw(Errno.EINVAL, "descriptors with a server request");
            bool read = h.Command == (ushort)VfioUserCommand.DmaRead;
            if (!read && h.Command != (ushort)VfioUserCommand.DmaWrite) ThrowHelper.Throw(Errno.ENOSYS, "unknown server request");
            var a = DmaAccess.Parse(_reader.Payload, withData: !read);
            if (a.Count > MaxDataXferSize) ThrowHelper.Throw(Errno.E2BIG, "DMA request too large");
            ulong address = a.Address, count = a.Count;
            var memory = _memory.FirstOrDefault(m => m.Covers(address, count)) ?? ThrowHelper.Throw<VfioUserClientMemory>(Errno.EFAULT, "unmapped");
            var need = read ? VfioDmaProtection.Read : VfioDmaProtection.Write;
            if ((memory.Protection & need) == 0) ThrowHelper.Throw(Errno.EPERM, "no permission");
            DmaAccess.WriteHead(head[VfioUserHeader.Length..], a.Address, a.Count);
            if (read)
            {
                dataLength = (int)a.Count;
                data = ArrayPool<byte>.Shared.Rent(dataLength);
                memory.Slice(a.Address, dataLength).CopyTo(data);
            }
            else a.Data.CopyTo(memory.Slice(a.Address, (int)a.Count));
            DmaRequestsServed++;
        }
        catch (ErrnoException e)
        {
            error = e.Errno;
        }
        if (h.NoReply) return;
        if (error != Errno.None)
        {
            h.ErrorReply((uint)error).Write(head);
            _transport.Send(head[..VfioUserHeader.Length], default);
            return;
        }
        var message = ArrayPool<byte>.Shared.Rent(head.Length + dataLength);
        try
        {
            head.CopyTo(message);
            h.ReplyWith(DmaAccess.Length + dataLength).Write(message);
            data.AsSpan(0, dataLength).CopyTo(message.AsSpan(head.Length));
            _transport.Send(message.AsSpan(0, head.Length + dataLength), default);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(message);
            if (data is not null) ArrayPool<byte>.Shared.Return(data);
        }
    }

    /// <summary>
    /// Shuts the connection down without waiting for a call in progress (from another thread, e.g. a
    /// watchdog): that call and every later one fail with ECONNRESET. Dispose still releases the client.
    /// </summary>
    public void Abort() => _transport.Shutdown();

    /// <summary>Closes the connection; the server then releases the client's eventfds and DMA mappings.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _transport.Dispose();
            _reader.Dispose();
            foreach (var m in _memory) m.Dispose();
            _memory.Clear();
            var b = Interlocked.Exchange(ref _buffer, []);
            if (b.Length > 0) ArrayPool<byte>.Shared.Return(b);
        }
    }
}
