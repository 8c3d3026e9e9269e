using System.Runtime.InteropServices;
using Umdev.Interop.Native;

namespace Umdev.Interop;

/// <summary>A shared mmap(2) of a file descriptor; disposing unmaps it.</summary>
public sealed unsafe class MemoryMapping : SafeHandle
{
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
    /// <paramref name="length"/> mapped bytes at <paramref name="offset"/> (EINVAL outside the mapping);
    /// valid only while the mapping is alive.
    /// </summary>
    public Span<byte> Span(ulong offset, int length)
    {
        if (length < 0 || offset > Length || (ulong)length > Length - offset)
            ThrowHelper.Throw(Errno.EINVAL, "range outside the mapping");
        return new Span<byte>(Pointer + offset, length);
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

    protected override bool ReleaseHandle() => Libc.Munmap((void*)handle, (nuint)Length) == 0;
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
