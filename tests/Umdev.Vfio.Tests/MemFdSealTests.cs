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
}
