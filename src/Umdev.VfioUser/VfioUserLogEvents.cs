namespace Umdev.VfioUser;

/// <summary>The vfio-user service's log category and event ids (numbered 4xx).</summary>
public static class VfioUserLogEvents
{
    public const string Category = "umdev.vfio-user";
    public const int Serving = 401;
    public const int SecondClientRefused = 402;
    public const int ClientClosed = 403;
    public const int DriverFailed = 404;
    public const int DisplayRequestRefused = 405;
    public const int DisplayUnavailable = 406;
    public const int DirectoryTightened = 407;
    public const int DmaCopiedUnsealed = 410;
    public const int DisplayConnectionEvicted = 411;
}
