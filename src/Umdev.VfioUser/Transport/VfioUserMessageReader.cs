using System.Buffers;
using Umdev.Interop;
using Umdev.VfioUser.Protocol;
using static Umdev.VfioUser.Transport.DescriptorList;

namespace Umdev.VfioUser.Transport;

/// <summary>What the reader makes of the next message.</summary>
public enum VfioUserReadStatus
{
    /// <summary>A whole message is available.</summary>
    Message,
    /// <summary>Clean end of stream at a message boundary.</summary>
    EndOfStream,
    /// <summary>The stream ended inside a message.</summary>
    Truncated,
    /// <summary>The header's size is below 16: the stream cannot be resynchronised.</summary>
    Malformed,
    /// <summary>The message is larger than allowed; its body is being discarded (the header is valid).</summary>
    Oversized,
    /// <summary>
    /// The header claims a size far beyond anything a message may be (more than <see
    /// cref="VfioUserMessageReader.DiscardLimit"/>): no peer sends such a body, so the reader does not wait
    /// for it and the stream cannot be resynchronised. <see cref="VfioUserMessageReader.Header"/> is valid.
    /// </summary>
    Implausible,
    /// <summary>
    /// Nothing arrived before the transport's receive timeout, at a message boundary with nothing buffered
    /// (only from <see cref="VfioUserMessageReader.Read(bool)"/> with <c>quietEnds</c>): the peer is quiet.
    /// </summary>
    Quiet,
}

/// <summary>
/// Frames vfio-user messages from a stream. Reads as much as is available in one call (so a message
/// normally costs one recvmsg), assembles messages that arrive in pieces, skips bodies somewhat over the
/// limit (a peer that overshot it stays in sync) and gives up on sizes far beyond it, and
/// gives each message the descriptors that came with it. The kernel ends a read right after the bytes
/// that carried descriptors and a sender attaches them to a message's first bytes, so descriptors belong
/// to the last message that starts within the read that brought them; descriptors that arrive in the
/// middle of a message are marked misplaced.
/// </summary>
public sealed class VfioUserMessageReader : IDisposable
{
    private readonly IVfioUserTransport _transport;
    private readonly int _maxMessage;
    private readonly List<FileDescriptorHandle> _incoming = [];
    private readonly List<PendingFds> _pending = [];
    private byte[] _buffer;
    private int _start, _end;
    private ulong _startPos;          // stream position of _buffer[_start]
    private ulong _skip;              // bytes of an oversized body still to discard
    private List<FileDescriptorHandle>? _current;
    private int _protectEnd;                      // bytes [0, _protectEnd) hold a message still in use
    private readonly List<byte[]> _retired = [];  // buffers outgrown while a message was protected
    private bool _currentMisplaced;

    private sealed record PendingFds(ulong Position, List<FileDescriptorHandle> Fds, bool Misplaced);

    public VfioUserMessageReader(IVfioUserTransport transport, int maxMessage, int initialBuffer = 64 * 1024)
    {
        _transport = transport;
        _maxMessage = maxMessage;
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Min(initialBuffer, maxMessage));
    }

    public int MaxMessage => _maxMessage;

    /// <summary>
    /// Largest size whose body is still read and discarded: twice <see cref="MaxMessage"/>. A peer that
    /// overshoots the limit by up to a message's worth is told so and kept in sync; a header claiming more
    /// (e.g. 4 GiB, or a misread stream) is not followed by that many bytes, and waiting for them would hang
    /// the connection.
    /// </summary>
    public ulong DiscardLimit => 2 * (ulong)_maxMessage;

    /// <summary>The current message's header (valid after <see cref="VfioUserReadStatus.Message"/>, Oversized or Implausible).</summary>
    public VfioUserHeader Header { get; private set; }

    /// <summary>The current message's payload; valid until the next read.</summary>
    public ReadOnlySpan<byte> Payload => _payloadLength > 0 ? _buffer.AsSpan(_payloadStart, _payloadLength) : default;

    private int _payloadStart, _payloadLength;

    /// <summary>Descriptors that came with the current message (empty list when none).</summary>
    public IReadOnlyList<FileDescriptorHandle> Fds => (IReadOnlyList<FileDescriptorHandle>?)_current ?? [];

    /// <summary>True when descriptors arrived in the middle of the current message or some were dropped.</summary>
    public bool FdsMisplaced => _currentMisplaced;

    /// <summary>
    /// Takes ownership of the current message's descriptors (the reader no longer closes them).
    /// </summary>
    public List<FileDescriptorHandle>? TakeFds()
    {
        var fds = _current;
        _current = null;
        return fds;
    }

    /// <summary>
    /// True when the next <see cref="Read()"/> can answer from what is already buffered (a whole message, or a
    /// header that decides the stream's fate), i.e. without waiting for the peer.
    /// </summary>
    public bool HasBufferedMessage
    {
        get
        {
            if (_skip > 0) return false;
            int start = _start + _consumeOnNext;
            int available = _end - start;
            if (available < VfioUserHeader.Length) return false;
            uint size = VfioUserHeader.Read(_buffer.AsSpan(start)).Size;
            return size < VfioUserHeader.Length || size > (uint)_maxMessage || available >= size;
        }
    }

    /// <summary>Reads the next message, blocking as needed.</summary>
    public VfioUserReadStatus Read() => Read(quietEnds: false);

    /// <summary>
    /// Reads the next message, blocking as needed. With <paramref name="quietEnds"/>, a receive that times out
    /// (EAGAIN, a socket with SO_RCVTIMEO) while nothing is buffered returns <see cref="VfioUserReadStatus.Quiet"/>;
    /// otherwise, and in the middle of a message always, the reader waits on.
    /// </summary>
    public VfioUserReadStatus Read(bool quietEnds)
    {
        ReleaseCurrent();
        // Finish the previous message first: drop what it occupied.
        _start += _consumeOnNext;
        _startPos += (ulong)_consumeOnNext;
        _consumeOnNext = 0;
        while (true)
        {
            if (_skip > 0)
            {
                int drop = (int)Math.Min(_skip, (ulong)(_end - _start));
                _start += drop;
                _startPos += (ulong)drop;
                _skip -= (ulong)drop;
                if (_skip > 0)
                {
                    if (Fill(quietEnds: false) == Filled.End) return VfioUserReadStatus.Truncated;
                    continue;
                }
                DropPendingBefore(_startPos);
            }
            int available = _end - _start;
            if (available >= VfioUserHeader.Length)
            {
                var header = VfioUserHeader.Read(_buffer.AsSpan(_start));
                Header = header;
                if (header.Size < VfioUserHeader.Length) return VfioUserReadStatus.Malformed;
                if (header.Size > DiscardLimit) return VfioUserReadStatus.Implausible;
                if (header.Size > (uint)_maxMessage)
                {
                    TakePending(_startPos);
                    _skip = header.Size;
                    return VfioUserReadStatus.Oversized;
                }
                if (available >= header.Size)
                {
                    TakePending(_startPos);
                    _payloadStart = _start + VfioUserHeader.Length;
                    _payloadLength = (int)header.Size - VfioUserHeader.Length;
                    _consumeOnNext = (int)header.Size;
                    return VfioUserReadStatus.Message;
                }
                EnsureRoom((int)header.Size);
            }
            var filled = Fill(quietEnds && available == 0 && _skip == 0);
            if (filled == Filled.Quiet) return VfioUserReadStatus.Quiet;
            if (filled == Filled.End) return available == 0 && _skip == 0 ? VfioUserReadStatus.EndOfStream : VfioUserReadStatus.Truncated;
        }
    }

    private int _consumeOnNext;

    private enum Filled { Bytes, End, Quiet }

    /// <summary>One receive into the free space.</summary>
    private Filled Fill(bool quietEnds)
    {
        if (_start == _end) _start = _end = _protectEnd;
        // Also after the reset: a protected message may end exactly at the buffer's end.
        if (_end == _buffer.Length) EnsureRoom(_end - _start + 1);
        int before = _end;
        int n;
        bool truncated;
        while (true)
        {
            try
            {
                n = _transport.Receive(_buffer.AsSpan(_end), _incoming, out truncated);
                break;
            }
            catch (ErrnoException e) when (e.Errno == Errno.EAGAIN)
            {
                // The receive timeout passed with nothing: the caller may give up its thread only between messages.
                if (quietEnds) return Filled.Quiet;
            }
        }
        if (n <= 0)
        {
            CloseAll(_incoming);
            return Filled.End;
        }
        _end += n;
        if (_incoming.Count > 0 || truncated)
        {
            var fds = new List<FileDescriptorHandle>(_incoming);
            _incoming.Clear();
            ulong chunkStart = _startPos + (ulong)(before - _start);
            ulong chunkEnd = _startPos + (ulong)(_end - _start);
            ulong owner = LastBoundaryBefore(chunkEnd);
            if (owner >= chunkEnd) CloseAll(fds); // they came inside a body being discarded
            else _pending.Add(new PendingFds(owner, fds, truncated || owner < chunkStart));
        }
        return Filled.Bytes;
    }

    /// <summary>Start of the last message that begins before stream position <paramref name="end"/>.</summary>
    private ulong LastBoundaryBefore(ulong end)
    {
        ulong b = _startPos + _skip;
        while (true)
        {
            if (b + VfioUserHeader.Length > end) return b;
            int at = _start + (int)(b - _startPos);
            uint size = VfioUserHeader.Read(_buffer.AsSpan(at)).Size;
            if (size < VfioUserHeader.Length || b + size >= end) return b;
            b += size;
        }
    }

    private void EnsureRoom(int messageSize)
    {
        if (_start > _protectEnd)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, _protectEnd, _end - _start);
            _end -= _start - _protectEnd;
            _start = _protectEnd;
        }
        if (_protectEnd + messageSize <= _buffer.Length) return;
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(Math.Max(messageSize, _buffer.Length * 2), _maxMessage));
        Buffer.BlockCopy(_buffer, _start, bigger, 0, _end - _start);
        if (_protectEnd > 0) _retired.Add(_buffer);
        else ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
        _end -= _start;
        _start = 0;
        _protectEnd = 0;
    }

    /// <summary>
    /// Keeps the current message's bytes (its payload span) intact while further messages are read, for
    /// a handler that must wait for a reply from the peer before it finishes. Idempotent; ends with
    /// <see cref="EndProtection"/>.
    /// </summary>
    public void ProtectCurrent()
    {
        if (_protected) return;
        _protected = true;
        _start += _consumeOnNext;
        _startPos += (ulong)_consumeOnNext;
        _consumeOnNext = 0;
        _protectEnd = _start;
    }

    private bool _protected;

    /// <summary>The protected message is no longer used: its bytes may be reused.</summary>
    public void EndProtection()
    {
        if (!_protected) return;
        _protected = false;
        _protectEnd = 0;
        foreach (var b in _retired) ArrayPool<byte>.Shared.Return(b);
        _retired.Clear();
    }

    private void TakePending(ulong position)
    {
        DropPendingBefore(position);
        for (int i = 0; i < _pending.Count; i++)
        {
            if (_pending[i].Position != position) continue;
            if (_current is null) _current = _pending[i].Fds;
            else _current.AddRange(_pending[i].Fds);
            _currentMisplaced |= _pending[i].Misplaced;
            _pending.RemoveAt(i);
            i--;
        }
    }

    private void DropPendingBefore(ulong position)
    {
        for (int i = _pending.Count - 1; i >= 0; i--)
        {
            if (_pending[i].Position >= position) continue;
            CloseAll(_pending[i].Fds);
            _pending.RemoveAt(i);
        }
    }

    private void ReleaseCurrent()
    {
        if (_current is not null) CloseAll(_current);
        _current = null;
        _currentMisplaced = false;
        _payloadLength = 0;
    }

    public void Dispose()
    {
        ReleaseCurrent();
        foreach (var p in _pending) CloseAll(p.Fds);
        _pending.Clear();
        CloseAll(_incoming);
        EndProtection();
        var b = Interlocked.Exchange(ref _buffer, []);
        if (b.Length > 0) ArrayPool<byte>.Shared.Return(b);
    }
}
