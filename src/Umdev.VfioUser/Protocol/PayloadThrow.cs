using System.Diagnostics.CodeAnalysis;
using Umdev.Interop;

namespace Umdev.VfioUser.Protocol;

/// <summary>Cold throws of the codecs.</summary>
internal static class PayloadThrow
{
    [DoesNotReturn]
    public static void TooShort(string what) => throw new ErrnoException(Errno.EINVAL, $"{what}: payload too short");

    [DoesNotReturn]
    public static void Invalid(string what) => throw new ErrnoException(Errno.EINVAL, what);

    public static void Need(ReadOnlySpan<byte> payload, int length, string what)
    {
        if (payload.Length < length) TooShort(what);
    }
}
