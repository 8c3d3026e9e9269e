namespace Umdev.Sysfs.Fuse;

/// <summary>
/// Node ids the kernel knows, with its lookup counts (released by FORGET). A node id is a hash of the
/// path, so readdir can report the same inode numbers without registering every entry it lists.
/// </summary>
internal sealed class FuseInodes
{
    private readonly Dictionary<ulong, (string Path, ulong Lookups)> _nodes = new() { [FuseConst.RootId] = ("", 1) };
    private readonly Lock _lock = new();

    public static ulong IdOf(string path)
    {
        if (path.Length == 0) return FuseConst.RootId;
        ulong hash = 14695981039346656037; // FNV-1a 64
        foreach (char c in path)
        {
            hash ^= c;
            hash *= 1099511628211;
        }
        return hash <= FuseConst.RootId ? hash + 2 : hash;
    }

    public string? PathOf(ulong id)
    {
        lock (_lock) return _nodes.TryGetValue(id, out var node) ? node.Path : null;
    }

    /// <summary>Counts one more kernel reference (a successful LOOKUP reply). False on a hash collision.</summary>
    public bool Remember(string path, out ulong id)
    {
        id = IdOf(path);
        lock (_lock)
        {
            if (_nodes.TryGetValue(id, out var node))
            {
                if (node.Path != path) return false;
                _nodes[id] = (path, node.Lookups + 1);
            }
            else
            {
                _nodes[id] = (path, 1);
            }
            return true;
        }
    }

    public void Forget(ulong id, ulong lookups)
    {
        if (id == FuseConst.RootId) return;
        lock (_lock)
        {
            if (!_nodes.TryGetValue(id, out var node)) return;
            if (node.Lookups <= lookups) _nodes.Remove(id);
            else _nodes[id] = (node.Path, node.Lookups - lookups);
        }
    }

    public int Count
    {
        get { lock (_lock) return _nodes.Count; }
    }
}
