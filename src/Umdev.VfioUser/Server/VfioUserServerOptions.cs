namespace Umdev.VfioUser.Server;

/// <summary>Limits and capabilities a vfio-user server announces and enforces.</summary>
public sealed record VfioUserServerOptions
{
    /// <summary>Most descriptors accepted in one message (announced as <c>max_msg_fds</c>).</summary>
    public int MaxMsgFds { get; init; } = 8;

    /// <summary>Largest region/DMA transfer (announced as <c>max_data_xfer_size</c>).</summary>
    public uint MaxDataXferSize { get; init; } = 1 << 20;

    /// <summary>Most simultaneous DMA mappings.</summary>
    public int MaxDmaMaps { get; init; } = 65535;

    /// <summary>Offer REGION_WRITE_MULTI.</summary>
    public bool WriteMultiple { get; init; } = true;

    /// <summary>How long a DMA_READ/DMA_WRITE request to the client may take.</summary>
    public TimeSpan DmaTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a new client has to complete VERSION; one that has not by then is closed (and logged), so a
    /// connection that never negotiates cannot hold the device. <see cref="Timeout.InfiniteTimeSpan"/>: no deadline.
    /// </summary>
    public TimeSpan VersionTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a connected client may be silent between messages before its thread is given back: the
    /// connection then waits on the shared reactor and its next message gets it a thread again, so a client
    /// that stays connected but quiet costs no thread. While it talks the thread stays and blocks in the
    /// receive itself (the round trip stays at the socket floor). <see cref="Timeout.InfiniteTimeSpan"/>: keep it.
    /// </summary>
    public TimeSpan IdleThreadTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Largest message accepted: a region access of the biggest transfer.</summary>
    internal int MaxMessage => 16 + 16 + (int)MaxDataXferSize;
}
