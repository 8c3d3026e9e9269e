using Umdev.Interop;

namespace Umdev.Vfio.Tests;

/// <summary>memfd seals: what the daemon hands out cannot be resized, and which client memory it may map.</summary>
public class MemFdSealTests
{
    [Fact]
    public void A_memfd_is_sealed_against_resizing_by_default()
    {
        using var fd = MemFd.Create("t", 8192);
        Assert.Equal(MemFdSeals.Shrink | MemFdSeals.Grow, MemFd.GetSeals(fd));
        Assert.Equal(Errno.EPERM, Assert.Throws<ErrnoException>(() => fd.SetLength(0)).Errno);
        Assert.Equal(Errno.EPERM, Assert.Throws<ErrnoException>(() => fd.SetLength(16384)).Errno);
        Assert.Equal(8192, fd.GetRegularFileSize());
    }

    [Fact]
    public void A_memory_region_is_sealed_before_anyone_can_hold_it()
    {
        var region = new VfioMemoryRegion(0, 4096);
        Assert.Equal(MemFdSeals.Shrink | MemFdSeals.Grow | MemFdSeals.Seal, MemFd.GetSeals(region.MemoryHandle));
        Assert.Equal(Errno.EPERM, Assert.Throws<ErrnoException>(() => region.MemoryHandle.SetLength(0)).Errno);
    }

    [Fact]
    public void TrySealShrink_seals_what_it_can_and_says_so()
    {
        using var open = MemFd.Create("open", 4096, MemFdSeals.None);
        Assert.True(MemFd.TrySealShrink(open));
        Assert.Equal(MemFdSeals.Shrink, MemFd.GetSeals(open));
        Assert.True(MemFd.TrySealShrink(open)); // already

        using var closed = MemFd.Create("closed", 4096, MemFdSeals.Seal);
        Assert.False(MemFd.TrySealShrink(closed));
        closed.SetLength(0); // nothing holds it at its size

        using var unsealed = MemFd.Create("read-only", 4096, MemFdSeals.None);
        using var readOnly = unsealed.ReopenReadOnly();
        Assert.False(MemFd.TrySealShrink(readOnly)); // F_ADD_SEALS needs a writable descriptor

        string path = Path.GetTempFileName();
        try
        {
            using var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
            var fd = new FileDescriptorHandle((int)file.DangerousGetHandle(), ownsHandle: false);
            Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => MemFd.GetSeals(fd)).Errno);
            Assert.False(MemFd.TrySealShrink(fd)); // a file on disk cannot be sealed
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Write_sealing_needs_every_writable_mapping_gone()
    {
        using var fd = MemFd.Create("w", 4096, MemFdSeals.None);
        using (var mapping = MemoryMapping.Map(fd, 0, 4096, writable: true))
            Assert.Equal(Errno.EBUSY, Assert.Throws<ErrnoException>(() => MemFd.Seal(fd, MemFdSeals.Write)).Errno);
        MemFd.Seal(fd, MemFdSeals.Write | MemFdSeals.Seal);
        Assert.Equal(Errno.EPERM, Assert.Throws<ErrnoException>(() => MemoryMapping.Map(fd, 0, 4096, writable: true)).Errno);
        Assert.Equal(Errno.EPERM, Assert.Throws<ErrnoException>(() => MemFd.Seal(fd, MemFdSeals.Shrink)).Errno);
    }

    [Fact]
    public void A_sealed_copy_holds_the_bytes_and_nothing_can_change_them()
    {
        var bytes = Enumerable.Range(0, 10_000).Select(i => (byte)(i * 31)).ToArray();
        using var fd = MemFd.CreateCopy("copy", bytes, MemFdSeals.Write | MemFdSeals.Shrink | MemFdSeals.Grow | MemFdSeals.Seal);
        Assert.Equal(10_000, fd.GetRegularFileSize());
        using (var view = MemoryMapping.Map(fd, 0, 10_000, writable: false))
            Assert.Equal(bytes, view.Span(0, 10_000).ToArray());
        Assert.Equal(Errno.EPERM, Assert.Throws<ErrnoException>(() => MemoryMapping.Map(fd, 0, 4096, writable: true)).Errno);
        Assert.Equal(Errno.EPERM, Assert.Throws<ErrnoException>(() => fd.SetLength(0)).Errno);
        using var file = File.OpenHandle($"/proc/self/fd/{fd.Fd}", FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        Assert.Throws<UnauthorizedAccessException>(() => RandomAccess.Write(file, new byte[] { 1 }, 0));
    }
}
