using Microsoft.Extensions.Logging;

namespace Umdev.Sysfs;

/// <summary>The event ids of the sysfs tree's log (category <c>umdev.sysfs</c>), numbered 3xx.</summary>
public static class SysfsLogEvents
{
    public const string Category = "umdev.sysfs";
    public static readonly EventId Mounted = new(301, nameof(Mounted));
    public static readonly EventId Unmounted = new(302, nameof(Unmounted));
    public static readonly EventId StaleMountDetached = new(303, nameof(StaleMountDetached));
    public static readonly EventId UnmountFailed = new(304, nameof(UnmountFailed));
    public static readonly EventId RequestFailed = new(305, nameof(RequestFailed));
    public static readonly EventId MalformedRequest = new(306, nameof(MalformedRequest));
    public static readonly EventId ReplyRefused = new(307, nameof(ReplyRefused));
    public static readonly EventId RequestLoopFailed = new(308, nameof(RequestLoopFailed));
    public static readonly EventId NodeIdCollision = new(309, nameof(NodeIdCollision));
}
