using Umdev.Core;
using Umdev.Interop;

namespace Umdev.Sysfs;

/// <summary>Attribute files the driver core gives every device, bus and driver (not mdev specific).</summary>
internal static class StandardAttributes
{
    private static readonly string[] UeventActions = ["add", "remove", "change", "move", "online", "offline", "bind", "unbind"];

    /// <summary>Writing an action name synthesises a uevent (kobject_synth_uevent); we have no uevents, so only check it.</summary>
    public static void StoreUevent(ReadOnlySpan<byte> written)
    {
        string text = System.Text.Encoding.ASCII.GetString(written).TrimEnd('\n');
        string action = text.Split(' ', 2)[0];
        if (!UeventActions.Contains(action)) ThrowHelper.Throw(Errno.EINVAL, $"unknown uevent action '{action}'");
    }

    public static MdevAttribute DeviceUevent(Func<string> show) => new("uevent", MdevAttribute.ReadWrite, show, StoreUevent);

    public static readonly MdevAttribute WriteOnlyUevent = new("uevent", MdevAttribute.WriteOnly, store: StoreUevent);

    /// <summary>
    /// The runtime-PM group every device has (power/). Runtime PM is unused, so the values are those of a
    /// device that never suspends; control accepts its two words but, like autosuspend, has nothing to change.
    /// </summary>
    public static readonly MdevAttributeGroup Power = new("power",
    [
        new("autosuspend_delay_ms", MdevAttribute.ReadWrite,
            () => ThrowHelper.Throw<string>(Errno.EIO, "autosuspend is not used"),
            _ => ThrowHelper.Throw(Errno.EIO, "autosuspend is not used")),
        new("control", MdevAttribute.ReadWrite, () => "auto\n", StoreControl),
        MdevAttribute.Text("runtime_active_time", () => "0\n"),
        MdevAttribute.Text("runtime_status", () => "unsupported\n"),
        MdevAttribute.Text("runtime_suspended_time", () => "0\n"),
    ]);

    private static void StoreControl(ReadOnlySpan<byte> written)
    {
        if (WrittenName(written) is not ("auto" or "on")) ThrowHelper.Throw(Errno.EINVAL, "power/control takes 'auto' or 'on'");
    }

    /// <summary>A word written to an attribute (a device name, a power/control value), without the one trailing newline sysfs_streq ignores.</summary>
    public static string WrittenName(ReadOnlySpan<byte> written)
    {
        string text = System.Text.Encoding.ASCII.GetString(written);
        return text.EndsWith('\n') ? text[..^1] : text;
    }
}
