using System.Runtime.InteropServices;

namespace Umdev.Interop;

/// <summary>
/// A failure that carries the kernel's errno, so every layer (sysfs write, vfio-user reply, CLI)
/// can report exactly what the kernel would have.
/// </summary>
public class ErrnoException : Exception
{
    /// <summary>A failure with <paramref name="errno"/>; <paramref name="message"/> defaults to <see cref="Describe"/>.</summary>
    public ErrnoException(Errno errno, string? message = null, Exception? inner = null)
        : base(message ?? Describe(errno), inner)
    {
        Errno = errno;
    }

    /// <summary>The errno a kernel would return for this failure.</summary>
    public Errno Errno { get; }

    /// <summary>The C library's text for an errno ("No space left on device").</summary>
    public static string Describe(Errno errno) => Marshal.GetPInvokeErrorMessage((int)errno);

    /// <summary>Turns the errno left by the last failed <c>SetLastError</c> call into an exception.</summary>
    public static ErrnoException FromLastPInvokeError(string what)
    {
        var errno = (Errno)Marshal.GetLastPInvokeError();
        return new ErrnoException(errno, $"{what}: {Describe(errno)}");
    }
}
