using Umdev.Interop;

namespace Umdev.Devices.Mtty.Tests;

/// <summary>
/// Identifies an open eventfd by descriptor number and kernel eventfd id (/proc/self/fdinfo), so a
/// test can tell whether the device still holds a reference after the owner disposed its handle.
/// </summary>
internal readonly record struct EventFdProbe(int Fd, string? Id)
{
    public static EventFdProbe Identity(EventFd e) => Identity(e.Fd);

    public static EventFdProbe Identity(int fd)
    {
        try
        {
            foreach (var line in File.ReadAllLines($"/proc/self/fdinfo/{fd}"))
                if (line.StartsWith("eventfd-id:", StringComparison.Ordinal)) return new EventFdProbe(fd, line);
            return new EventFdProbe(fd, null);
        }
        catch (IOException)
        {
            return new EventFdProbe(fd, null);
        }
    }
}
