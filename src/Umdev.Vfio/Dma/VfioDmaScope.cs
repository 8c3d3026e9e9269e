namespace Umdev.Vfio;

/// <summary>A range of client memory: its IOVA and length.</summary>
/// <param name="Iova">The first byte's IOVA.</param>
/// <param name="Length">Bytes in the range.</param>
public readonly record struct VfioDmaRange(ulong Iova, int Length);

/// <summary>
/// Direct accesses to several ranges of client memory in progress (<see cref="VfioDmaTable.BeginDirect"/>):
/// the memory stays mapped until the scope is disposed, and disposing logs the ranges the device wrote as
/// dirty (after the writes, so a dirty-page report cannot miss them).
/// </summary>
public sealed class VfioDmaScope : IDisposable
{
    private readonly List<VfioDmaMapping> _mappings;
    private readonly VfioDmaRange[]? _written;
    private readonly VfioDmaDirtyLog? _log;

    internal VfioDmaScope(int ranges, VfioDmaRange[]? written, VfioDmaDirtyLog? log)
    {
        _mappings = new List<VfioDmaMapping>(ranges);
        _written = written;
        _log = log;
    }

    internal void Add(VfioDmaMapping mapping) => _mappings.Add(mapping);

    /// <summary>Ends the accesses (an unmap waiting for them may go on).</summary>
    public void Dispose()
    {
        if (_written is not null && _mappings.Count == _written.Length)
            foreach (var r in _written) _log?.Record(r.Iova, (ulong)r.Length);
        foreach (var m in _mappings) m.EndAccess();
        _mappings.Clear();
    }
}
