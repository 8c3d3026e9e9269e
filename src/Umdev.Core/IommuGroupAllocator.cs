namespace Umdev.Core;

/// <summary>Hands out IOMMU group numbers: always the lowest free one, reused after release.</summary>
public sealed class IommuGroupAllocator
{
    private readonly SortedSet<int> _released = [];
    private readonly Lock _lock = new();
    private int _next;

    /// <summary>Takes the lowest free group number.</summary>
    public int Allocate()
    {
        lock (_lock)
        {
            if (_released.Count > 0)
            {
                int min = _released.Min;
                _released.Remove(min);
                return min;
            }
            return _next++;
        }
    }

    /// <summary>Gives <paramref name="group"/> back for reuse.</summary>
    public void Release(int group)
    {
        lock (_lock)
        {
            if (group == _next - 1)
            {
                // Shrink the high-water mark so the released set stays small.
                _next--;
                while (_released.Count > 0 && _released.Max == _next - 1)
                {
                    _released.Remove(_released.Max);
                    _next--;
                }
            }
            else
            {
                _released.Add(group);
            }
        }
    }
}
