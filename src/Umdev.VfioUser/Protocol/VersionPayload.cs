using System.Buffers.Binary;
using System.Text.Json;
using Umdev.Interop;

namespace Umdev.VfioUser.Protocol;

/// <summary>VFIO_USER_VERSION payload: major u16, minor u16, optional NUL-terminated JSON.</summary>
public readonly ref struct VersionPayload
{
    public const int FixedLength = 4;

    public VersionPayload(ushort major, ushort minor, ReadOnlySpan<byte> json)
    {
        Major = major;
        Minor = minor;
        Json = json;
    }

    public ushort Major { get; }
    public ushort Minor { get; }

    /// <summary>The JSON text without its terminating NUL (empty when absent).</summary>
    public ReadOnlySpan<byte> Json { get; }

    /// <summary>Parses; EINVAL when shorter than 4 bytes or the JSON lacks its final NUL.</summary>
    public static VersionPayload Parse(ReadOnlySpan<byte> p)
    {
        PayloadThrow.Need(p, FixedLength, "VERSION");
        var json = p[FixedLength..];
        if (json.Length > 0)
        {
            if (json[^1] != 0) PayloadThrow.Invalid("VERSION JSON is not NUL-terminated");
            json = json[..^1];
        }
        return new VersionPayload(BinaryPrimitives.ReadUInt16LittleEndian(p), BinaryPrimitives.ReadUInt16LittleEndian(p[2..]), json);
    }

    /// <summary>Writes major, minor and the JSON plus NUL (if any); returns the length.</summary>
    public static int Write(Span<byte> d, ushort major, ushort minor, ReadOnlySpan<byte> json)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(d, major);
        BinaryPrimitives.WriteUInt16LittleEndian(d[2..], minor);
        if (json.IsEmpty) return FixedLength;
        json.CopyTo(d[FixedLength..]);
        d[FixedLength + json.Length] = 0;
        return FixedLength + json.Length + 1;
    }
}

/// <summary>The capabilities a peer announced in its VERSION JSON (spec defaults where absent).</summary>
public sealed record VfioUserCapabilities(uint MaxMsgFds = 1, uint MaxDataXferSize = VfioUserCapabilities.DefaultMaxDataXferSize,
    uint MaxDmaMaps = 65535, ulong PgSizes = 4096, bool WriteMultiple = false)
{
    public const uint DefaultMaxDataXferSize = 1 << 20;

    /// <summary>
    /// Parses <c>{"capabilities":{…}}</c>. EINVAL for text that is not UTF-8, not a JSON object, or a known capability of
    /// the wrong type; unknown keys are ignored. Empty text means "all defaults".
    /// </summary>
    public static VfioUserCapabilities Parse(ReadOnlySpan<byte> json)
    {
        var caps = new VfioUserCapabilities();
        if (json.IsEmpty) return caps;
        // JsonDocument checks the encoding of a string only when it is read (then InvalidOperationException).
        if (!System.Text.Unicode.Utf8.IsValid(json)) PayloadThrow.Invalid("VERSION JSON is not UTF-8");
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 16 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object) PayloadThrow.Invalid("VERSION JSON is not an object");
            if (!doc.RootElement.TryGetProperty("capabilities", out var c)) return caps;
            if (c.ValueKind != JsonValueKind.Object) PayloadThrow.Invalid("capabilities is not an object");
            foreach (var prop in c.EnumerateObject())
            {
                caps = prop.Name switch
                {
                    "max_msg_fds" => caps with { MaxMsgFds = Number(prop.Value, 0, 1024, prop.Name) },
                    "max_data_xfer_size" => caps with { MaxDataXferSize = Number(prop.Value, 1, uint.MaxValue, prop.Name) },
                    "max_dma_maps" => caps with { MaxDmaMaps = Number(prop.Value, 0, uint.MaxValue, prop.Name) },
                    "pgsizes" => caps with { PgSizes = prop.Value.ValueKind == JsonValueKind.Number && prop.Value.TryGetUInt64(out var pg) ? pg : Bad<ulong>(prop.Name) },
                    "write_multiple" => caps with
                    {
                        WriteMultiple = prop.Value.ValueKind switch
                        {
                            JsonValueKind.True => true,
                            JsonValueKind.False => false,
                            _ => Bad<bool>(prop.Name),
                        },
                    },
                    _ => caps,
                };
            }
            return caps;
        }
        catch (JsonException e)
        {
            throw new ErrnoException(Errno.EINVAL, $"VERSION JSON is malformed: {e.Message}");
        }
    }

    private static uint Number(JsonElement v, uint min, uint max, string name) =>
        v.ValueKind == JsonValueKind.Number && v.TryGetUInt32(out uint n) && n >= min && n <= max ? n : Bad<uint>(name);

    private static T Bad<T>(string name) => throw new ErrnoException(Errno.EINVAL, $"capability {name} has a bad value");
}
