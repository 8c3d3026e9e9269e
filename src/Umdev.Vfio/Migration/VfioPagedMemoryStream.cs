using System.Buffers.Binary;
using Umdev.Interop;

namespace Umdev.Vfio.Migration;

/// <summary>Writes a driver's fixed-size record (its header or the registers after the memory) into <paramref name="destination"/>.</summary>
public delegate void VfioRecordWriter(Span<byte> destination);

/// <summary>Checks a driver's fixed-size record as it arrives; throw (EINVAL) to refuse it.</summary>
public delegate void VfioRecordReader(ReadOnlySpan<byte> record);

/// <summary>
/// The stream of a device whose state is mapped memory (a framebuffer) plus a few registers: the driver's
/// header, then page records (u64 page number, the page's bytes) in any order and number, then an end
/// record (u64 <see cref="EndTag"/>, the driver's trailer). <see cref="VfioPagedMemorySource"/> sends it with
/// PRE_COPY passes over the pages the guest changed; <see cref="VfioPagedMemorySink"/> takes it.
/// </summary>
public static class VfioPagedMemoryStream
{
    /// <summary>Tag of the end record.</summary>
    public const ulong EndTag = ulong.MaxValue;

    /// <summary>Bytes of a page number or the end tag.</summary>
    public const int TagSize = 8;

    /// <summary>Bytes of a stream that sends every page once.</summary>
    public static ulong Size(ulong memorySize, int pageSize, int headerSize, int trailerSize) =>
        (ulong)headerSize + (memorySize + (ulong)pageSize - 1) / (ulong)pageSize * (ulong)(TagSize + pageSize) + TagSize + (ulong)trailerSize;
}

/// <summary>
/// The saving side over a <see cref="VfioMemoryRegion"/>: tracks the region from the session's start
/// (<see cref="VfioMemoryRegion.StartTracking"/>; writes a VMM makes through its mapping are found by
/// hash), sends the header, then in PRE_COPY one pass of pending pages per "no more data now", and from
/// <see cref="EnterStopCopy"/> the pages changed since the last pass and the end record with the trailer,
/// written when it is reached (the device is stopped by then). Disposing stops the tracking.
/// </summary>
public sealed class VfioPagedMemorySource : IVfioMigrationSource, IDisposable
{
    private readonly VfioMemoryRegion _memory;
    private readonly VfioPageDirtyTracker _tracker;
    private readonly VfioRecordWriter _trailer;
    private readonly int _trailerSize;
    private readonly byte[] _record;
    private int _filled, _read;
    private bool _stopCopy, _passEnded, _endSent;

    /// <param name="memory">The mapped memory to send.</param>
    /// <param name="header">The driver's header, sent first.</param>
    /// <param name="trailerSize">Bytes of the trailer.</param>
    /// <param name="trailer">Writes the trailer (the registers) when the end record is reached.</param>
    /// <param name="stopCopy">True for a session opened in STOP_COPY (no PRE_COPY passes).</param>
    /// <param name="pageSize">Bytes per page record (a power of two).</param>
    public VfioPagedMemorySource(VfioMemoryRegion memory, ReadOnlySpan<byte> header, int trailerSize, VfioRecordWriter trailer,
        bool stopCopy, int pageSize = 4096)
    {
        _memory = memory;
        _trailer = trailer;
        _trailerSize = trailerSize;
        _stopCopy = stopCopy;
        _record = new byte[VfioPagedMemoryStream.TagSize + Math.Max(Math.Max(pageSize, trailerSize), header.Length)];
        header.CopyTo(_record);
        _filled = header.Length;
        _tracker = memory.StartTracking(pageSize);
    }

    /// <summary>The arc into STOP_COPY: the next reads send the last changes, then the end record.</summary>
    public void EnterStopCopy()
    {
        _stopCopy = true;
        _passEnded = true;
    }

    /// <inheritdoc/>
    public int Produce(Span<byte> destination)
    {
        if (_read == _filled && !NextRecord()) return 0;
        int n = Math.Min(_filled - _read, destination.Length);
        _record.AsSpan(_read, n).CopyTo(destination);
        _read += n;
        return n;
    }

    private bool NextRecord()
    {
        _read = _filled = 0;
        if (_passEnded)
        {
            _tracker.Scan();
            _passEnded = false;
        }
        long page = _tracker.NextPending();
        if (page >= 0)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(_record, (ulong)page);
            _filled = VfioPagedMemoryStream.TagSize + _tracker.Take(page, _record.AsSpan(VfioPagedMemoryStream.TagSize));
            return true;
        }
        if (!_stopCopy)
        {
            _passEnded = true; // nothing more now: the next read starts the next pass
            return false;
        }
        if (_endSent) return false;
        BinaryPrimitives.WriteUInt64LittleEndian(_record, VfioPagedMemoryStream.EndTag);
        _trailer(_record.AsSpan(VfioPagedMemoryStream.TagSize, _trailerSize));
        _filled = VfioPagedMemoryStream.TagSize + _trailerSize;
        _endSent = true;
        return true;
    }

    /// <summary>Initial bytes: the unread record and the pages never sent; dirty bytes: pages changed since sent (scanned between passes).</summary>
    public VfioPrecopyInfo GetPrecopyInfo()
    {
        if (_tracker.NextPending() < 0) _tracker.Scan();
        ulong record = (ulong)(VfioPagedMemoryStream.TagSize + _tracker.PageSize);
        return new VfioPrecopyInfo((ulong)_tracker.UnsentPages * record + (ulong)(_filled - _read), (ulong)_tracker.DirtyPages * record);
    }

    /// <summary>Stops tracking the memory.</summary>
    public void Dispose() => _memory.StopTracking();
}

/// <summary>
/// The resuming side: checks the header when it is complete, writes pages straight into the memory (the
/// device is stopped), keeps the trailer and hands it to the driver at RESUMING→STOP. A bad header, a page
/// past the memory or bytes after the end record fail that write and every later one with EINVAL; a stream
/// without its end record fails the load.
/// </summary>
public sealed class VfioPagedMemorySink : IVfioMigrationSink
{
    private readonly VfioMemoryRegion _memory;
    private readonly int _pageSize, _headerSize;
    private readonly VfioRecordReader _checkHeader, _load;
    private readonly byte[] _head;
    private int _headFilled, _pageFilled;
    private long _page = -1;
    private bool _headerSeen, _ended, _broken;

    /// <param name="memory">The memory pages are written into.</param>
    /// <param name="headerSize">Bytes of the driver's header.</param>
    /// <param name="checkHeader">Checks the header (throw EINVAL to refuse the stream).</param>
    /// <param name="trailerSize">Bytes of the trailer.</param>
    /// <param name="load">Checks and applies the trailer at RESUMING→STOP.</param>
    /// <param name="pageSize">Bytes per page record, as the source's.</param>
    public VfioPagedMemorySink(VfioMemoryRegion memory, int headerSize, VfioRecordReader checkHeader, int trailerSize, VfioRecordReader load,
        int pageSize = 4096)
    {
        _memory = memory;
        _pageSize = pageSize;
        _headerSize = headerSize;
        _checkHeader = checkHeader;
        _load = load;
        _head = new byte[Math.Max(headerSize, VfioPagedMemoryStream.TagSize + trailerSize)];
        TrailerSize = trailerSize;
    }

    private int TrailerSize { get; }

    /// <inheritdoc/>
    public void Consume(ReadOnlySpan<byte> data)
    {
        if (_broken) ThrowHelper.Throw(Errno.EINVAL, "migration stream already refused");
        while (!data.IsEmpty)
        {
            if (_ended) Refuse("bytes after the end record");
            int n;
            if (_page >= 0)
            {
                ulong at = (ulong)_page * (ulong)_pageSize + (ulong)_pageFilled;
                int length = (int)Math.Min((ulong)_pageSize, _memory.Size - (ulong)_page * (ulong)_pageSize);
                n = Math.Min(length - _pageFilled, data.Length);
                using (var access = _memory.Access(at, n)) data[..n].CopyTo(access.Span);
                _pageFilled += n;
                if (_pageFilled == length) _page = -1;
            }
            else
            {
                int want = !_headerSeen ? _headerSize
                    : _headFilled >= VfioPagedMemoryStream.TagSize && BinaryPrimitives.ReadUInt64LittleEndian(_head) == VfioPagedMemoryStream.EndTag
                        ? VfioPagedMemoryStream.TagSize + TrailerSize
                        : VfioPagedMemoryStream.TagSize;
                n = Math.Min(want - _headFilled, data.Length);
                data[..n].CopyTo(_head.AsSpan(_headFilled));
                _headFilled += n;
                if (_headFilled == want) FieldDone(want);
            }
            data = data[n..];
        }
    }

    private void FieldDone(int length)
    {
        if (!_headerSeen)
        {
            try
            {
                _checkHeader(_head.AsSpan(0, length));
            }
            catch
            {
                _broken = true;
                throw;
            }
            _headerSeen = true;
            _headFilled = 0;
            return;
        }
        ulong tag = BinaryPrimitives.ReadUInt64LittleEndian(_head);
        if (tag == VfioPagedMemoryStream.EndTag)
        {
            _ended = length > VfioPagedMemoryStream.TagSize || TrailerSize == 0; // else the trailer follows
            return;
        }
        if (tag >= ((_memory.Size + (ulong)_pageSize - 1) / (ulong)_pageSize)) Refuse($"migration page {tag} past the memory");
        _page = (long)tag;
        _pageFilled = 0;
        _headFilled = 0;
    }

    private void Refuse(string message)
    {
        _broken = true;
        ThrowHelper.Throw(Errno.EINVAL, message);
    }

    /// <inheritdoc/>
    public void Complete()
    {
        if (!_ended) ThrowHelper.Throw(Errno.EINVAL, "migration stream ends before its end record");
        _load(_head.AsSpan(VfioPagedMemoryStream.TagSize, TrailerSize));
    }
}
