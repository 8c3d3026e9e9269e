using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using Umdev.VfioUser.Display;

namespace Umdev.Cli;

/// <summary>
/// Writes a display frame (XRGB8888) as an RGB PNG with ImageSharp. Only encoding is used: umdev never
/// decodes images, so the decoder advisories of ImageSharp 2.1 do not apply.
/// </summary>
public static class ScreenshotPng
{
    private static readonly PngEncoder Encoder = new()
    {
        ColorType = PngColorType.Rgb,
        BitDepth = PngBitDepth.Bit8,
        CompressionLevel = PngCompressionLevel.BestSpeed,
    };

    /// <summary>Encodes the frame's pixels as they are now into <paramref name="output"/>.</summary>
    public static void Write(VfioDisplayFrame frame, Stream output)
    {
        int width = (int)frame.Plane.Width, height = (int)frame.Plane.Height;
        using var image = new Image<Rgb24>(width, height);
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < height; y++)
            {
                var source = frame.Row(y);
                var target = rows.GetRowSpan(y);
                for (int x = 0; x < width; x++)
                    target[x] = new Rgb24(source[4 * x + 2], source[4 * x + 1], source[4 * x]); // bytes B, G, R, unused
            }
        });
        image.SaveAsPng(output, Encoder);
    }

    /// <summary>Encodes the frame into the file <paramref name="path"/> (replaced if present).</summary>
    public static void Write(VfioDisplayFrame frame, string path)
    {
        using var file = File.Create(path);
        Write(frame, file);
    }
}
