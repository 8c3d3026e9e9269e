using System.Diagnostics.CodeAnalysis;

namespace Umdev.Interop;

/// <summary>Cold throw paths, kept out of callers so their hot paths stay small.</summary>
public static class ThrowHelper
{
    [DoesNotReturn]
    public static void Throw(Errno errno, string? message = null) => throw new ErrnoException(errno, message);

    [DoesNotReturn]
    public static T Throw<T>(Errno errno, string? message = null) => throw new ErrnoException(errno, message);

    [DoesNotReturn]
    public static void ThrowLastError(string what) => throw ErrnoException.FromLastPInvokeError(what);
}
