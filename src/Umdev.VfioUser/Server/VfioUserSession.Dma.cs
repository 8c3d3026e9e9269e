using System.Buffers;
using Umdev.Interop;
using Umdev.VfioUser.Protocol;
using Umdev.VfioUser.Transport;
using static Umdev.VfioUser.Transport.DescriptorList;

namespace Umdev.VfioUser.Server;

/// <summary>DMA_READ/DMA_WRITE requests to the client, for mappings passed without a descriptor.</summary>
public sealed partial class VfioUserSession
{
    private readonly Lock _dmaLock = new();
    private readonly Dictionary<ushort, PendingDma> _pendingDma = [];
    private int _nextDmaId;
    private const int MaxDeferred = 1024;

    private sealed class PendingDma(ushort id, VfioUserCommand command, ulong address, int count)
    {
        public ushort Id => id;
        public VfioUserCommand Command => command;
        public ulong Address => address;
        public int Count => count;
        public byte[]? Data;
        public Errno Error;
        public volatile bool Completed;
        public readonly ManualResetEventSlim Done = new();
    }

    /// <summary>Copies between client memory and a local buffer in transfers the client accepts.</summary>
    internal void ClientDma(ulong address, Span<byte> into, ReadOnlySpan<byte> from, bool write)
    {
        int total = write ? from.Length : into.Length;
        int chunk = (int)Math.Min(Math.Min(_client.MaxDataXferSize, _options.MaxDataXferSize), int.MaxValue);
        for (int done = 0; done < total;)
        {
            int n = Math.Min(chunk, total - done);
            OneClientDma(address + (ulong)done, write ? default : into.Slice(done, n), write ? from.Slice(done, n) : default, write, n);
            done += n;
        }
    }

    private void OneClientDma(ulong address, Span<byte> into, ReadOnlySpan<byte> from, bool write, int count)
    {
        if (_closing) ThrowHelper.Throw(Errno.ENODEV, "client gone");
        var command = write ? VfioUserCommand.DmaWrite : VfioUserCommand.DmaRead;
        var pending = new PendingDma((ushort)Interlocked.Increment(ref _nextDmaId), command, address, count);
        int size = VfioUserHeader.Length + DmaAccess.Length + (write ? count : 0);
        var message = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            new VfioUserHeader(pending.Id, (ushort)command, (uint)size, VfioUserFlags.Command, 0).Write(message);
            DmaAccess.WriteHead(message.AsSpan(VfioUserHeader.Length), address, (ulong)count);
            from.CopyTo(message.AsSpan(VfioUserHeader.Length + DmaAccess.Length));
            lock (_dmaLock) _pendingDma[pending.Id] = pending;
            if (!Send(message.AsSpan(0, size), default)) ThrowHelper.Throw(Errno.ENODEV, "client gone");
        }
        catch
        {
            lock (_dmaLock) _pendingDma.Remove(pending.Id);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(message);
        }
        if (Thread.CurrentThread == _thread) PumpUntil(pending);
        else if (!pending.Done.Wait(_options.DmaTimeout))
        {
            lock (_dmaLock) _pendingDma.Remove(pending.Id);
            ThrowHelper.Throw(Errno.ETIMEDOUT, "client did not answer the DMA request");
        }
        if (pending.Error != Errno.None) ThrowHelper.Throw(pending.Error, $"client refused {command} at 0x{address:x}");
        if (!write) pending.Data.AsSpan(0, count).CopyTo(into);
    }

    /// <summary>
    /// The session thread itself needs the reply (a driver doing DMA inside a command): read on, keeping the
    /// current command's bytes intact, and queue commands that arrive meanwhile for after it.
    /// </summary>
    private void PumpUntil(PendingDma pending)
    {
        _reader.ProtectCurrent();
        long deadline = Environment.TickCount64 + (long)_options.DmaTimeout.TotalMilliseconds;
        while (!pending.Completed)
        {
            if (!_reader.HasBufferedMessage && !_transport.WaitReadable((int)Math.Max(0, deadline - Environment.TickCount64)))
            {
                lock (_dmaLock) _pendingDma.Remove(pending.Id);
                ThrowHelper.Throw(Errno.ETIMEDOUT, "client did not answer the DMA request");
            }
            var status = _reader.Read();
            if (status == VfioUserReadStatus.Oversized)
            {
                if (!_reader.Header.IsReply && !_reader.Header.NoReply) SendError(_reader.Header, Errno.E2BIG);
                continue;
            }
            if (status != VfioUserReadStatus.Message)
            {
                if (status == VfioUserReadStatus.Implausible) RefuseImplausible();
                Close();
                ThrowHelper.Throw(Errno.ENODEV, "client gone while a DMA request was pending");
            }
            var header = _reader.Header;
            var fds = _reader.TakeFds();
            if (header.IsReply)
            {
                CompleteClientDma(header, _reader.Payload, fds);
                CloseAll(fds);
                continue;
            }
            if (_deferred.Count >= MaxDeferred)
            {
                // A client that floods instead of answering would make the queue grow without bound.
                Close();
                ThrowHelper.Throw(Errno.ENODEV, "client sent too many commands while a DMA request was pending");
            }
            var copy = new byte[header.Size];
            header.Write(copy);
            _reader.Payload.CopyTo(copy.AsSpan(VfioUserHeader.Length));
            _deferred.Enqueue(new DeferredCommand(copy, fds, _reader.FdsMisplaced));
        }
    }

    private void CompleteClientDma(in VfioUserHeader header, ReadOnlySpan<byte> payload, List<FileDescriptorHandle>? fds)
    {
        PendingDma? pending;
        lock (_dmaLock)
        {
            if (!_pendingDma.Remove(header.Id, out pending)) return; // a reply nobody waits for is dropped
        }
        if (header.IsError) pending.Error = header.Error == 0 ? Errno.EIO : (Errno)header.Error;
        else if (fds is { Count: > 0 } || header.Command != (ushort)pending.Command) pending.Error = Errno.EPROTO;
        else
        {
            try
            {
                bool read = pending.Command == VfioUserCommand.DmaRead;
                var a = DmaAccess.Parse(payload, withData: read);
                if (a.Address != pending.Address || a.Count != (ulong)pending.Count) pending.Error = Errno.EPROTO;
                else if (read) pending.Data = a.Data.ToArray();
            }
            catch (ErrnoException)
            {
                pending.Error = Errno.EPROTO;
            }
        }
        pending.Completed = true;
        pending.Done.Set();
    }

    private void FailPendingDma()
    {
        PendingDma[] all;
        lock (_dmaLock)
        {
            all = [.. _pendingDma.Values];
            _pendingDma.Clear();
        }
        foreach (var p in all)
        {
            p.Error = Errno.ENODEV;
            p.Completed = true;
            p.Done.Set();
        }
    }
}
