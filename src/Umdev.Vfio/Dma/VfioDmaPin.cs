using Umdev.Interop;

namespace Umdev.Vfio;

/// <summary>
/// Pinned client memory handed to a driver (<c>vfio_pin_pages</c>); dispose to unpin. Access the bytes
/// through <see cref="Access"/>, which fails with EFAULT once the client has unmapped the range.
/// </summary>
public sealed class VfioDmaPin : IDisposable
{
    private readonly VfioDmaTable _table;
    private readonly VfioDmaMapping? _mapping;
    private bool _disposed;

    internal VfioDmaPin(VfioDmaTable table, ulong iova, int length, VfioDmaDirection direction, VfioDmaMapping? mapping)
    {
        _table = table;
        Iova = iova;
        Length = length;
        Direction = direction;
        _mapping = mapping;
        if (mapping is null) Buffer = new byte[length];
    }

    public ulong Iova { get; }
    public int Length { get; }
    public VfioDmaDirection Direction { get; }

    internal byte[] Buffer { get; } = [];

    /// <summary>Begins an access to the pinned bytes; the span is valid until the access is disposed.</summary>
    public unsafe VfioDmaAccess Access()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_mapping is null) return new VfioDmaAccess(Buffer, null);
        _mapping.BeginAccess();
        var start = _mapping.Memory.Direct + (Iova - _mapping.Iova);
        return new VfioDmaAccess(new Span<byte>(start, Length), _mapping);
    }

    /// <summary>Writes a copy-backed pin's bytes to client memory (nothing to do for a direct pin).</summary>
    public void Flush()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        WriteBack();
    }

    /// <summary>Unpins (<c>vfio_unpin_pages</c>); a copy-backed pin that the device writes is flushed first.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        try
        {
            WriteBack();
        }
        finally
        {
            _disposed = true;
            if ((Direction & VfioDmaDirection.FromDevice) != 0) _table.DirtyLog?.RemoveWritePin(this);
        }
    }

    private void WriteBack()
    {
        if (_mapping is null && (Direction & VfioDmaDirection.FromDevice) != 0) _table.Write(Iova, Buffer);
    }
}

/// <summary>An access in progress to pinned memory; dispose to end it (an unmap waits for that).</summary>
public readonly ref struct VfioDmaAccess
{
    private readonly VfioDmaMapping? _mapping;

    internal VfioDmaAccess(Span<byte> span, VfioDmaMapping? mapping)
    {
        Span = span;
        _mapping = mapping;
    }

    public Span<byte> Span { get; }

    public void Dispose() => _mapping?.EndAccess();
}
