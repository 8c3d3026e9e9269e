namespace Umdev.DevicePlugin;

/// <summary>A device created for a slot by Allocate: its UUID and its socket, with the socket's folder.</summary>
public sealed record SlotDevice(string Slot, Guid Uuid, string Socket)
{
    /// <summary>The folder that holds the socket (the daemon gives each device its own).</summary>
    public string Folder => Path.GetDirectoryName(Socket)!;
}
