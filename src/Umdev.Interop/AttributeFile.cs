using System.Text;
using Umdev.Interop.Native;

namespace Umdev.Interop;

/// <summary>Attribute files (sysfs) written the way <c>echo</c> does it, keeping the errno the file returns.</summary>
public static class AttributeFile
{
    /// <summary>One open + one write(2) of <paramref name="text"/>; failures are <see cref="ErrnoException"/> with the errno.</summary>
    public static unsafe void Write(string path, string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        int fd = Libc.Open(path, Libc.O_WRONLY | Libc.O_CLOEXEC);
        if (fd < 0) ThrowHelper.ThrowLastError($"open {path}");
        try
        {
            fixed (byte* p = bytes)
            {
                if (Libc.Write(fd, p, (nuint)bytes.Length) < 0) ThrowHelper.ThrowLastError($"write {path}");
            }
        }
        finally
        {
            Libc.Close(fd);
        }
    }
}
