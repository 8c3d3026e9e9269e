using Microsoft.Win32.SafeHandles;
using Umdev.Interop;

namespace Umdev.Devices.VirtioBlk;

/// <summary>
/// The host file or block device behind a disk, opened read-write or read-only as its writer chose, and
/// only from beneath one of the directories disks may come from: its capacity in 512-byte sectors.
/// </summary>
internal sealed class VirtioBlkBacking : IDisposable
{
    public const int SectorSize = 512;

    private VirtioBlkBacking(string path, SafeFileHandle file, bool readOnly)
    {
        Path = path;
        File = file;
        ReadOnly = readOnly;
        Sectors = (ulong)FileData.Size(file) / SectorSize;
    }

    public string Path { get; }
    public SafeFileHandle File { get; }
    public bool ReadOnly { get; }
    public ulong Sectors { get; }

    /// <summary>
    /// Opens <paramref name="path"/> read-only or read-write as asked (never falling back to read-only).
    /// EINVAL: a relative path, a <c>.</c> or <c>..</c> component, anything but a regular file or block device,
    /// a path that crosses a mount point or lies on a FUSE filesystem; EACCES: not beneath any of
    /// <paramref name="allowedDirs"/>; ELOOP: a symlink anywhere below the allowed directory; else the
    /// open's errno (ENOENT, EISDIR, EACCES, EROFS, ...).
    /// </summary>
    public static VirtioBlkBacking Open(string path, IReadOnlyList<string> allowedDirs, bool readOnly)
    {
        if (!path.StartsWith('/')) ThrowHelper.Throw(Errno.EINVAL, $"backing '{path}' is not an absolute path");
        string[] parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Any(p => p is "." or ".."))
            ThrowHelper.Throw(Errno.EINVAL, $"backing '{path}' has a '.' or '..' component");
        string? dir = null;
        int depth = 0;
        foreach (string allowed in allowedDirs)
        {
            string[] prefix = allowed.Split('/', StringSplitOptions.RemoveEmptyEntries);
            if (prefix.Length >= parts.Length || !prefix.AsSpan().SequenceEqual(parts.AsSpan(0, prefix.Length))) continue;
            if (dir is null || prefix.Length > depth) (dir, depth) = (allowed, prefix.Length); // the innermost allowed dir
        }
        if (dir is null)
            ThrowHelper.Throw(Errno.EACCES, $"backing '{path}' is not in a disk directory ({string.Join(':', allowedDirs)}; the parent's disk-dirs option)");
        var file = ConfinedFile.OpenData(dir, string.Join('/', parts.AsSpan(depth)), writable: !readOnly);
        try
        {
            return new VirtioBlkBacking(path, file, readOnly);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public void Dispose() => File.Dispose();
}
