using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Umdev.Cli;

/// <summary>
/// The sd_notify(3) protocol for a <c>Type=notify</c> unit: one datagram such as <c>READY=1</c> to the UNIX
/// socket systemd names in <c>$NOTIFY_SOCKET</c> (a path, or an abstract name written with a leading '@').
/// Nothing happens when the variable is unset (not started by systemd). A managed datagram socket is all it
/// takes, so umdev does not take Microsoft.Extensions.Hosting.Systemd and the generic host it brings along.
/// </summary>
public static class SystemdNotify
{
    public const string Variable = "NOTIFY_SOCKET";

    /// <summary>Sends <paramref name="state"/>; a failure is logged (a warning: the daemon works on without it).</summary>
    public static void Send(string state, ILogger logger)
    {
        if (Send(state) is { } error) logger.LogWarning(ServeLogging.NotifyFailed, "sd_notify: {Error}", error);
    }

    /// <summary>Sends <paramref name="state"/> (newline-separated assignments); returns an error text, or null when sent or not asked for.</summary>
    public static string? Send(string state)
    {
        string? address = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrEmpty(address)) return null;
        if (address[0] == '@') address = "\0" + address[1..]; // abstract namespace
        else if (address[0] != '/') return $"{Variable}={address}: only UNIX socket addresses are supported";
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.SendTo(Encoding.UTF8.GetBytes(state), new UnixDomainSocketEndPoint(address));
            return null;
        }
        catch (SocketException e)
        {
            return $"{Variable}={Environment.GetEnvironmentVariable(Variable)}: {e.Message}";
        }
    }
}
