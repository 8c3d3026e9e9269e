using System.Runtime.InteropServices;

namespace Umdev.Interop.Native;

internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "chmod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Chmod(string path, uint mode);
}
