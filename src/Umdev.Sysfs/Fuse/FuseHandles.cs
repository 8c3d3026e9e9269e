using System.Collections.Concurrent;

namespace Umdev.Sysfs.Fuse;

/// <summary>An open attribute file: what show produced for this open, as sysfs keeps its seq_file buffer.</summary>
internal sealed class OpenFile(SysfsFile file)
{
    public SysfsFile File { get; } = file;
    public Lock Lock { get; } = new();
    public byte[]? Content { get; set; }
}

/// <summary>An open directory: its entries when it was opened, so offsets stay meaningful between reads.</summary>
internal sealed class OpenDir(IReadOnlyList<(string Name, ulong Ino, uint Type)> entries)
{
    public IReadOnlyList<(string Name, ulong Ino, uint Type)> Entries { get; } = entries;
}

/// <summary>File handles given to the kernel (fh), one table for files and directories.</summary>
internal sealed class FuseHandles
{
    private readonly ConcurrentDictionary<ulong, object> _open = new();
    private long _next;

    public ulong Add(object handle)
    {
        ulong fh = (ulong)Interlocked.Increment(ref _next);
        _open[fh] = handle;
        return fh;
    }

    public T? Get<T>(ulong fh) where T : class => _open.TryGetValue(fh, out var h) ? h as T : null;

    public void Remove(ulong fh) => _open.TryRemove(fh, out _);
}
