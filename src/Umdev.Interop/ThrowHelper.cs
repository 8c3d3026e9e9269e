using System.Diagnostics.CodeAnalysis;

namespace Umdev.Interop;

/// <summary>Cold throw paths, kept out of callers so their hot paths stay small.</summary>
public static class ThrowHelper
{
    /// <summary>Throws an <see cref="ErrnoException"/> for <paramref name="errno"/>; the message defaults to the C library's text.</summary>
    [DoesNotReturn]
    public static void Throw(Errno errno, string? message = null) => throw new ErrnoException(errno, message);

    /// <summary>As <see cref="Throw(Errno, string?)"/>, in an expression that needs a value.</summary>
    [DoesNotReturn]
    public static T Throw<T>(Errno errno, string? message = null) => throw new ErrnoException(errno, message);

    /// <summary>Throws the errno of the last native call (<paramref name="what"/> names it in the message).</summary>
    [DoesNotReturn]
    public static void ThrowLastError(string what) => throw ErrnoException.FromLastPInvokeError(what);
}
