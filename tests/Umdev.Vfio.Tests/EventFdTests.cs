using Umdev.Interop;

[assembly: CollectionBehavior(DisableTestParallelization = true)] // descriptor numbers are process-wide

namespace Umdev.Vfio.Tests;

public class EventFdTests
{
    [Fact]
    public void Signals_add_up_and_a_read_clears_them()
    {
        using var efd = EventFd.Create(nonBlocking: true);
        Assert.Equal(0ul, efd.Consume());
        efd.Signal();
        efd.Signal(2);
        Assert.Equal(3ul, efd.Wait(1000));
        Assert.False(efd.WaitReadable(0));
    }

    [Fact]
    public void A_reference_keeps_the_descriptor_open_after_its_owner_disposes_it()
    {
        var efd = EventFd.Create(nonBlocking: true);
        int fd = efd.Fd;
        var reference = efd.AddReference();
        efd.Dispose();
        Assert.True(File.Exists($"/proc/self/fd/{fd}"));
        reference.Signal(); // still works: the device holds its own reference
        reference.Dispose();
        Assert.False(File.Exists($"/proc/self/fd/{fd}")); // the last reference closed it
    }

    [Fact]
    public void Adopt_refuses_a_descriptor_that_is_not_an_eventfd_and_closes_it()
    {
        var file = File.OpenHandle("/proc/self/status");
        var handle = new FileDescriptorHandle((int)file.DangerousGetHandle(), ownsHandle: true);
        file.SetHandleAsInvalid();
        var e = Assert.Throws<ErrnoException>(() => EventFd.Adopt(handle));
        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.True(handle.IsClosed);
    }

    [Fact]
    public void Adopt_takes_over_a_received_eventfd()
    {
        using var original = EventFd.Create(nonBlocking: true);
        var dup = original.Duplicate();
        using var adopted = EventFd.Adopt(dup);
        adopted.Signal(5);
        Assert.Equal(5ul, original.Consume());
    }
}
