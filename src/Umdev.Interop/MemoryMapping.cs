using System.Runtime.InteropServices;
using Umdev.Interop.Native;

namespace Umdev.Interop;

/// <summary>
/// A shared mmap(2) of a file descriptor; disposing unmaps it. When other threads may touch the bytes while
/// one disposes (a device's memory, unmapped at its removal), they reach them through <see cref="Access"/>:
/// the unmap is deferred until the last access ends, and an access begun after disposal is refused, so no
/// thread can fault on memory unmapped under it.
/// </summary>
public sealed unsafe class MemoryMapping : SafeHandle
{
    // SafeHandle refuses new references only once the last one is gone; this refuses them from the dispose
    // on, so accessors that keep coming cannot hold off the unmap for ever.
    private volatile bool _disposed;

    private MemoryMapping(nint address, ulong length, bool writable) : base(0, true)
    {
        SetHandle(address);
        Length = length;
        Writable = writable;
    }

    public ulong Length { get; }
    public bool Writable { get; }
    public override bool IsInvalid => handle == 0;

    /// <summary>The mapped bytes (valid only while the mapping is alive).</summary>
    public byte* Pointer => (byte*)handle;

    /// <summary>
    /// <paramref name="length"/> mapped bytes at <paramref name="offset"/> (EINVAL outside the mapping;
    /// ObjectDisposedException once disposed). For a mapping only the caller disposes: where another thread
    /// may dispose it meanwhile, use <see cref="Access"/>.
    /// </summary>
    public Span<byte> Span(ulong offset, int length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new Span<byte>(Pointer + CheckRange(offset, length), length);
    }

    /// <summary>
    /// Begins an access that keeps the bytes mapped until it is disposed, even if the mapping is disposed
    /// meanwhile (the unmap then happens at the last access's end). ObjectDisposedException once disposed.
    /// </summary>
    // The SafeHandle's own reference count is the lease: an interlocked add and release per access, no lock,
    // and its release runs munmap only when the handle is closed and no access remains.
    public MemoryMappingAccess Access()
    {
        bool added = false;
        DangerousAddRef(ref added);
        // After the add (a full fence): a dispose that set the flag before it is seen here, and one that
        // comes later finds this reference and leaves the unmap to its release.
        if (_disposed)
        {
            DangerousRelease();
            throw new ObjectDisposedException(nameof(MemoryMapping));
        }
        return new MemoryMappingAccess(this);
    }

    internal ulong CheckRange(ulong offset, int length)
    {
        if (length < 0 || offset > Length || (ulong)length > Length - offset)
            ThrowHelper.Throw(Errno.EINVAL, "range outside the mapping");
        return offset;
    }

    /// <summary>Maps <paramref name="length"/> bytes of <paramref name="fd"/> at <paramref name="offset"/>, shared.</summary>
    public static MemoryMapping Map(FileDescriptorHandle fd, ulong offset, ulong length, bool writable)
    {
        if (length == 0 || offset > long.MaxValue || length > long.MaxValue - offset)
            ThrowHelper.Throw(Errno.EINVAL, "bad mapping range");
        bool added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            int prot = Libc.PROT_READ | (writable ? Libc.PROT_WRITE : 0);
            void* p = Libc.Mmap(null, (nuint)length, prot, Libc.MAP_SHARED, fd.Fd, (long)offset);
            if (p == (void*)-1) ThrowHelper.ThrowLastError("mmap");
            return new MemoryMapping((nint)p, length, writable);
        }
        finally
        {
            if (added) fd.DangerousRelease();
        }
    }

    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        base.Dispose(disposing);
    }

    protected override bool ReleaseHandle() => Libc.Munmap((void*)handle, (nuint)Length) == 0;
}

/// <summary>An access in progress to a <see cref="MemoryMapping"/>: the bytes stay mapped until it is disposed.</summary>
public readonly unsafe ref struct MemoryMappingAccess
{
    private readonly MemoryMapping _mapping;

    internal MemoryMappingAccess(MemoryMapping mapping) => _mapping = mapping;

    /// <summary><paramref name="length"/> bytes at <paramref name="offset"/> (EINVAL outside the mapping), valid until the access ends.</summary>
    public Span<byte> Span(ulong offset, int length) =>
        new(_mapping.Pointer + _mapping.CheckRange(offset, length), length);

    /// <summary>Ends the access (the last one after a dispose unmaps).</summary>
    public void Dispose() => _mapping?.DangerousRelease();
}

/// <summary>CPU affinity of the calling thread (threads it creates later inherit it).</summary>
public static class CpuAffinity
{
    public static unsafe void SetCurrentThread(IReadOnlyCollection<int> cpus)
    {
        ulong* mask = stackalloc ulong[16];
        new Span<ulong>(mask, 16).Clear();
        foreach (int cpu in cpus)
        {
            if ((uint)cpu >= 16 * 64) ThrowHelper.Throw(Errno.EINVAL, $"cpu {cpu} out of range");
            mask[cpu / 64] |= 1UL << (cpu % 64);
        }
        if (Libc.SchedSetAffinity(0, 16 * 8, mask) != 0) ThrowHelper.ThrowLastError("sched_setaffinity");
    }
}
