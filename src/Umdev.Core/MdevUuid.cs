using Umdev.Interop;

namespace Umdev.Core;

/// <summary>UUID text rules of the kernel's <c>create</c> attribute (lib/uuid.c <c>uuid_is_valid</c>).</summary>
public static class MdevUuid
{
    /// <summary>Characters of a UUID in its canonical text form.</summary>
    public const int TextLength = 36;

    /// <summary>
    /// Parses what a writer put into <c>create</c>: exactly 36 bytes, or 37 where the 37th byte is not
    /// inspected (normally the newline of <c>echo</c>); hex digits of either case with '-' at 8, 13, 18, 23.
    /// </summary>
    public static Guid ParseCreateWrite(ReadOnlySpan<byte> written)
    {
        if (written.Length is not (TextLength or TextLength + 1))
            ThrowHelper.Throw(Errno.EINVAL, $"UUID must be 36 characters (got {written.Length} bytes)");
        if (!TryParse(written[..TextLength], out var uuid))
            ThrowHelper.Throw(Errno.EINVAL, "not a canonical UUID");
        return uuid;
    }

    /// <summary>Parses exactly 36 canonical UUID characters; no other length is accepted.</summary>
    public static bool TryParse(ReadOnlySpan<byte> text, out Guid uuid)
    {
        uuid = Guid.Empty;
        if (text.Length != TextLength) return false;
        for (int i = 0; i < TextLength; i++)
        {
            byte c = text[i];
            if (i is 8 or 13 or 18 or 23)
            {
                if (c != '-') return false;
            }
            else if (!char.IsAsciiHexDigit((char)c))
            {
                return false;
            }
        }
        Span<char> chars = stackalloc char[TextLength];
        for (int i = 0; i < TextLength; i++) chars[i] = (char)text[i];
        return Guid.TryParseExact(chars, "D", out uuid);
    }

    /// <summary>Parses a device name: a canonical 36-character UUID of ASCII hex digits.</summary>
    public static bool TryParse(string text, out Guid uuid)
    {
        if (text.Length != TextLength || text.Any(c => c > 0x7f)) { uuid = Guid.Empty; return false; }
        Span<byte> bytes = stackalloc byte[TextLength];
        for (int i = 0; i < TextLength; i++) bytes[i] = (byte)text[i];
        return TryParse(bytes, out uuid);
    }

    /// <summary>Parses exactly 36 canonical UUID characters (a command's argument); EINVAL otherwise.</summary>
    public static Guid Parse(string text) =>
        TryParse(text, out var uuid) ? uuid : ThrowHelper.Throw<Guid>(Errno.EINVAL, $"'{text}' is not a UUID");

    /// <summary>The name sysfs gives the device: the lowercase canonical form.</summary>
    public static string ToName(Guid uuid) => uuid.ToString("D");
}
