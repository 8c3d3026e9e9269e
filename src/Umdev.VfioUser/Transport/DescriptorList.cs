using Umdev.Interop;

namespace Umdev.VfioUser.Transport;

/// <summary>Received descriptors travel in lists; this closes one.</summary>
internal static class DescriptorList
{
    /// <summary>Closes every descriptor of the list (if any) and empties it.</summary>
    public static void CloseAll(List<FileDescriptorHandle>? fds)
    {
        if (fds is null) return;
        foreach (var fd in fds) fd.Dispose();
        fds.Clear();
    }
}
