using Umdev.Interop;

namespace Umdev.Core;

/// <summary>The kernel's <c>kstrtoul(buf, 0, …)</c> and <c>kstrtobool</c> as sysfs store callbacks use them.</summary>
public static class SysfsNumber
{
    /// <summary>
    /// Optional '+', then decimal, 0x-hex or 0-octal digits, then at most one trailing newline. EINVAL
    /// otherwise, ERANGE on overflow.
    /// </summary>
    public static ulong ParseUnsigned(ReadOnlySpan<byte> text)
    {
        if (text.Length > 0 && text[^1] == '\n') text = text[..^1];
        if (text.Length > 0 && text[0] == '+') text = text[1..];
        uint radix = 10;
        if (text.Length >= 2 && text[0] == '0' && (text[1] | 0x20) == 'x' && text.Length > 2 && IsDigit(text[2], 16))
        {
            radix = 16;
            text = text[2..];
        }
        else if (text.Length >= 1 && text[0] == '0')
        {
            radix = 8;
        }
        if (text.Length == 0) ThrowHelper.Throw(Errno.EINVAL, "not a number");
        ulong value = 0;
        foreach (byte c in text)
        {
            if (!IsDigit(c, radix)) ThrowHelper.Throw(Errno.EINVAL, "not a number");
            uint digit = c <= '9' ? (uint)(c - '0') : (uint)((c | 0x20) - 'a' + 10);
            if (value > (ulong.MaxValue - digit) / radix) ThrowHelper.Throw(Errno.ERANGE, "number too large");
            value = value * radix + digit;
        }
        return value;
    }

    /// <summary>
    /// kstrtobool: decided by the first characters, the rest ignored: 1/y/Y/on (true), 0/n/N/off (false,
    /// any case for on/off). EINVAL otherwise. These are the words of kernels before 6.0; later ones also
    /// take t/e (true) and f/d (false).
    /// </summary>
    public static bool ParseBool(ReadOnlySpan<byte> text)
    {
        if (text.Length > 0)
        {
            switch (text[0])
            {
                case (byte)'1' or (byte)'y' or (byte)'Y': return true;
                case (byte)'0' or (byte)'n' or (byte)'N': return false;
                case (byte)'o' or (byte)'O' when text.Length > 1:
                    if (text[1] is (byte)'n' or (byte)'N') return true;
                    if (text[1] is (byte)'f' or (byte)'F') return false;
                    break;
            }
        }
        return ThrowHelper.Throw<bool>(Errno.EINVAL, "not a boolean (1/0, y/n, on/off)");
    }

    private static bool IsDigit(byte c, uint radix) => radix switch
    {
        8 => c is >= (byte)'0' and <= (byte)'7',
        10 => c is >= (byte)'0' and <= (byte)'9',
        _ => char.IsAsciiHexDigit((char)c),
    };
}
