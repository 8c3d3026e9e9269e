using System.Buffers.Binary;
using System.Text;
using Umdev.Core;
using Umdev.Devices.VirtioBlk;
using Umdev.Interop;
using Umdev.Vfio;
using Umdev.VfioUser.Protocol;
using Umdev.VfioUser.Server;
using Umdev.VfioUser.Transport;
using Umdev.Virtio;

using static Umdev.Fuzz.SeedBytes;

namespace Umdev.Fuzz;

/// <summary>
/// A real <see cref="VfioUserSession"/> serving a virtio-blk device (no backing) over an in-memory
/// transport: message reader, payload parsers, command handlers, the virtio-pci function and its
/// virtqueues. Input: [0] how the stream is cut into receives (0: one message per receive, else at most
/// that many bytes), [1..2] the length L of a guest memory image, L bytes written at the start of every
/// memfd handed over with a DMA_MAP, then the client's byte stream. A DMA_MAP command gets a fresh 64 KiB
/// memfd, a SET_IRQS command an eventfd, with its first byte. Expected: error replies, the session
/// ending. A failure: any exception out of the session, any driver fault it only logs, a reply that is
/// not one whole message.
/// </summary>
public sealed class VfioUserTarget : IFuzzTarget
{
    private const int MemfdSize = 64 * 1024;
    private readonly FailingLogger _logger = new();
    private readonly MdevCore _core = new();
    private readonly VfioDevice _device;

    public VfioUserTarget()
    {
        var plugin = new VirtioParentPlugin();
        var parent = plugin.Register(_core, MdevParentOptions.Parse(plugin, "disks=1"));
        var mdev = _core.Create(parent.FindType("virtio-blk")!, Guid.NewGuid());
        _device = (VfioDevice)mdev.DriverData!;
        _function = (VirtioPciFunction)_device.Ops;
    }

    private readonly VirtioPciFunction _function;

    /// <summary>
    /// The queue workers turn any exception into DEVICE_NEEDS_RESET and keep its type in LastError
    /// ("queue N: Type: message"); only a broken ring (VirtqueueException, whose message has no type) or
    /// an errno is expected there.
    /// </summary>
    private static readonly System.Text.RegularExpressions.Regex UnexpectedWorkerFault =
        new(@"^queue \d+: (?!ErrnoException:)\w+Exception: ", System.Text.RegularExpressions.RegexOptions.Compiled);

    private void CheckWorkers()
    {
        if (_function.LastError is { } e && UnexpectedWorkerFault.IsMatch(e)) throw new FuzzFailure($"virtqueue worker fault: {e}");
    }

    public void Run(byte[] input)
    {
        if (input.Length < 3) return;
        int chunk = input[0];
        int imageLength = Math.Min(BinaryPrimitives.ReadUInt16LittleEndian(input.AsSpan(1)), input.Length - 3);
        var image = input.AsSpan(3, imageLength).ToArray();
        var transport = new MemoryTransport(input.AsMemory(3 + imageLength), chunk, image, CheckWorkers);
        var options = new VfioUserServerOptions { DmaTimeout = TimeSpan.FromMilliseconds(50) };
        var session = new VfioUserSession(_device, transport, options, _logger);
        session.Run();
        if (transport.Failure is { } failure) throw failure;
        if (_device.OpenCount != 0) throw new FuzzFailure($"the device is still open {_device.OpenCount} times after the session");
    }

    /// <summary>The client's side: the stream in pieces, descriptors where a client would attach them; replies checked and dropped.</summary>
    private sealed class MemoryTransport(ReadOnlyMemory<byte> stream, int chunk, byte[] image, Action check) : IVfioUserTransport
    {
        private int _at, _messageEnd;
        private volatile bool _shut;

        public FuzzFailure? Failure { get; private set; }

        public int Receive(Span<byte> buffer, List<FileDescriptorHandle> fds, out bool fdsTruncated)
        {
            fdsTruncated = false;
            check(); // between messages, while the device has not been reset by the session's end
            if (_shut || _at >= stream.Length || buffer.IsEmpty) return 0;
            var rest = stream.Span[_at..];
            if (_at >= _messageEnd)
            {
                // A message starts here: its size frames it as the client meant it (a bad size: the rest).
                uint size = rest.Length >= VfioUserHeader.Length ? BinaryPrimitives.ReadUInt32LittleEndian(rest[4..]) : 0;
                _messageEnd = size >= VfioUserHeader.Length && size <= (uint)rest.Length ? _at + (int)size : stream.Length;
                if (rest.Length >= VfioUserHeader.Length) Attach(VfioUserHeader.Read(rest), fds);
            }
            int n = Math.Min(Math.Min(buffer.Length, _messageEnd - _at), chunk == 0 ? int.MaxValue : chunk);
            rest[..n].CopyTo(buffer);
            _at += n;
            return n;
        }

        private void Attach(in VfioUserHeader header, List<FileDescriptorHandle> fds)
        {
            if (!header.IsCommand) return;
            if (header.Command == (ushort)VfioUserCommand.DmaMap)
            {
                var memfd = MemFd.Create("fuzz-dma", MemfdSize);
                int length = Math.Min(image.Length, MemfdSize);
                if (length > 0)
                {
                    using var map = MemoryMapping.Map(memfd, 0, MemfdSize, writable: true);
                    image.AsSpan(0, length).CopyTo(map.Span(0, length));
                }
                fds.Add(memfd);
            }
            else if (header.Command == (ushort)VfioUserCommand.DeviceSetIrqs) fds.Add(EventFd.Create());
        }

        public void Send(ReadOnlySpan<byte> data, ReadOnlySpan<FileDescriptorHandle> fds)
        {
            if (data.Length < VfioUserHeader.Length || VfioUserHeader.Read(data).Size != (uint)data.Length)
                Failure ??= new FuzzFailure($"the server sent {data.Length} bytes that are not one message");
        }

        public void Shutdown() => _shut = true;

        public bool WaitReadable(int timeoutMs) => true;

        public void Dispose() { }
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        ushort id = 0;
        byte[] M(VfioUserCommand c, byte[] p) => Message(id++, (ushort)c, p);
        byte[] Version = M(VfioUserCommand.Version, VersionPayload("{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576}}"));
        byte[] W(int region, ulong offset, params byte[] data) => M(VfioUserCommand.RegionWrite, RegionAccess(offset, (uint)region, (uint)data.Length, data));
        byte[] R(int region, ulong offset, uint count) => M(VfioUserCommand.RegionRead, RegionAccess(offset, (uint)region, count));

        yield return ("version", Input(0, [], Version));
        id = 0;
        yield return ("info", Input(0, [], [.. Version, .. M(VfioUserCommand.DeviceGetInfo, U32s(16, 0, 0, 0)),
            .. M(VfioUserCommand.DeviceGetRegionInfo, U32s(32, 0, 7, 0, 0, 0, 0, 0)), .. M(VfioUserCommand.DeviceGetRegionInfo, U32s(32, 0, 4, 0, 0, 0, 0, 0)),
            .. M(VfioUserCommand.DeviceGetIrqInfo, U32s(16, 0, 4, 0)), .. R(7, 0, 64), .. W(7, 4, 0x06, 0x00)]));
        id = 0;
        yield return ("dma-map-unmap", Input(16, [1, 2, 3, 4], [.. Version, .. M(VfioUserCommand.DmaMap, DmaMap(0x100000, MemfdSize)),
            .. M(VfioUserCommand.DmaUnmap, [.. U32s(24, 0), .. U64s(0x100000, MemfdSize)])]));
        id = 0;
        yield return ("set-irqs-msix", Input(0, [], [.. Version, .. M(VfioUserCommand.DeviceSetIrqs, U32s(20, 0x24, 2, 0, 1)),
            .. M(VfioUserCommand.DeviceSetIrqs, U32s(20, 0x21, 2, 0, 0))]));
        id = 0;
        yield return ("virtio-request", VirtioRequest(M, Version, W, R));
        id = 0;
        yield return ("write-multi-reset", Input(3, [], [.. Version, .. M(VfioUserCommand.RegionWriteMulti, WriteMulti()),
            .. M(VfioUserCommand.DeviceReset, []), .. M(VfioUserCommand.DeviceFeature, U32s(16, 0x10000 | 0x10000000 | 1))]));
    }

    /// <summary>A driver's bring-up of queue 0 (8 entries at 0x100000) and one read request in the mapped image, with its doorbell.</summary>
    private static byte[] VirtioRequest(Func<VfioUserCommand, byte[], byte[]> m, byte[] version,
        Func<int, ulong, byte[], byte[]> w, Func<int, ulong, uint, byte[]> r)
    {
        const int Bar = VirtioPciLayout.StructuresBar;
        const ulong Iova = 0x100000, Desc = Iova, Avail = Iova + 0x80, Used = Iova + 0xC0;
        var image = new byte[0x400];
        void D(int i, ulong addr, uint len, ushort flags, ushort next)
        {
            var d = image.AsSpan(16 * i);
            BinaryPrimitives.WriteUInt64LittleEndian(d, addr);
            BinaryPrimitives.WriteUInt32LittleEndian(d[8..], len);
            BinaryPrimitives.WriteUInt16LittleEndian(d[12..], flags);
            BinaryPrimitives.WriteUInt16LittleEndian(d[14..], next);
        }
        D(0, Iova + 0x200, 16, 1, 1);       // virtio_blk_outhdr: type IN, sector 0
        D(1, Iova + 0x1000, 512, 2 | 1, 2); // data, device-writable
        D(2, Iova + 0x300, 1, 2, 0);        // status
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(0x82), 1); // avail.idx = 1, ring[0] = 0
        byte[] U16(ushort v) => [(byte)v, (byte)(v >> 8)];
        byte[] U32(uint v) => U32s(v);
        byte[] U64(ulong v) => U64s(v);
        return Input(0, Trim(image), [.. version, .. m(VfioUserCommand.DmaMap, DmaMap(Iova, MemfdSize)),
            .. w(Bar, 0x14, [0]), .. w(Bar, 0x14, [1]), .. w(Bar, 0x14, [3]),
            .. w(Bar, 0x00, U32(0)), .. r(Bar, 0x04, 4), .. w(Bar, 0x08, U32(1)), .. w(Bar, 0x0c, U32(1)), .. w(Bar, 0x14, [0xB]), .. r(Bar, 0x14, 1),
            .. w(Bar, 0x16, U16(0)), .. w(Bar, 0x18, U16(8)), .. w(Bar, 0x20, U64(Desc)), .. w(Bar, 0x28, U64(Avail)), .. w(Bar, 0x30, U64(Used)),
            .. w(Bar, 0x1c, U16(1)), .. w(Bar, 0x14, [0xF]),
            .. w(Bar, VirtioPciLayout.NotifyOffset, U16(0)), .. r(Bar, VirtioPciLayout.IsrOffset, 1), .. r(Bar, VirtioPciLayout.DeviceOffset, 8)]);
    }

    private static byte[] Trim(byte[] b)
    {
        int end = b.Length;
        while (end > 0 && b[end - 1] == 0) end--;
        return b[..end];
    }

    private static byte[] Input(byte chunk, byte[] image, byte[] stream) =>
        [chunk, (byte)image.Length, (byte)(image.Length >> 8), .. image, .. stream];

    private static byte[] Message(ushort id, ushort command, ReadOnlySpan<byte> payload)
    {
        var m = new byte[VfioUserHeader.Length + payload.Length];
        new VfioUserHeader(id, command, (uint)m.Length, VfioUserFlags.Command, 0).Write(m);
        payload.CopyTo(m.AsSpan(VfioUserHeader.Length));
        return m;
    }

    private static byte[] VersionPayload(string json) => [0, 0, 0, 0, .. Encoding.UTF8.GetBytes(json), 0];

    private static byte[] RegionAccess(ulong offset, uint region, uint count, ReadOnlySpan<byte> data = default) =>
        [.. U64s(offset), .. U32s(region, count), .. data];

    private static byte[] DmaMap(ulong iova, ulong size) => [.. U32s(32, 3), .. U64s(0, iova, size)];

    /// <summary>Two writes in one REGION_WRITE_MULTI: config command register, BAR4 device_status.</summary>
    private static byte[] WriteMulti()
    {
        static byte[] Entry(uint region, ulong offset, uint count, ulong data) => [.. U64s(offset), .. U32s(region, count), .. U64s(data)];
        return [.. U64s(2), .. Entry(7, 4, 2, 6), .. Entry(4, 0x14, 1, 1)];
    }
}
