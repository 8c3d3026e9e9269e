using Umdev.Interop;

namespace Umdev.Core;

/// <summary>The kernel's <c>kstrtoul(buf, 0, …)</c> as sysfs store callbacks use it.</summary>
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

    private static bool IsDigit(byte c, uint radix) => radix switch
    {
        8 => c is >= (byte)'0' and <= (byte)'7',
        10 => c is >= (byte)'0' and <= (byte)'9',
        _ => char.IsAsciiHexDigit((char)c),
    };
}
