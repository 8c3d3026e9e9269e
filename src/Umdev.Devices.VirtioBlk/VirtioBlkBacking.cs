using Microsoft.Win32.SafeHandles;
using Umdev.Interop;

namespace Umdev.Devices.VirtioBlk;

/// <summary>
/// The host file or block device behind a disk: opened read-write unless the file is read-only (no
/// write permission bit, or the open for writing is refused), its capacity in 512-byte sectors.
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

    /// <summary>Opens <paramref name="path"/> (absolute): ENOENT if missing, EISDIR for a directory, EINVAL if relative.</summary>
    public static VirtioBlkBacking Open(string path)
    {
        if (!System.IO.Path.IsPathRooted(path)) ThrowHelper.Throw(Errno.EINVAL, $"backing '{path}' is not an absolute path");
        if (Directory.Exists(path)) ThrowHelper.Throw(Errno.EISDIR, $"backing '{path}' is a directory");
        if (!System.IO.File.Exists(path)) ThrowHelper.Throw(Errno.ENOENT, $"backing '{path}' does not exist");
        SafeFileHandle file;
        try
        {
            file = OpenReadOnly(path);
        }
        catch (FileNotFoundException)
        {
            return ThrowHelper.Throw<VirtioBlkBacking>(Errno.ENOENT, $"backing '{path}' does not exist");
        }
        // root opens anything for writing; a file nobody may write is meant to be read-only.
        bool readOnly = true;
        try
        {
            if (FileData.HasWritePermission(file))
            {
                var writable = System.IO.File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
                file.Dispose();
                file = writable;
                readOnly = false;
            }
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException or ErrnoException)
        {
            // not writable here (read-only mount, permissions): serve it read-only
        }
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

    private static SafeFileHandle OpenReadOnly(string path) =>
        System.IO.File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);

    public void Dispose() => File.Dispose();
}
