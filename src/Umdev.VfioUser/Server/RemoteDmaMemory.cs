using Umdev.Vfio;

namespace Umdev.VfioUser.Server;

/// <summary>Client memory passed without a descriptor: every access is a DMA_READ/DMA_WRITE to the client.</summary>
internal sealed class RemoteDmaMemory(VfioUserSession session, ulong iova) : VfioDmaMemory
{
    public override void Read(ulong offset, Span<byte> destination) => session.ClientDma(iova + offset, destination, default, false);

    public override void Write(ulong offset, ReadOnlySpan<byte> source) => session.ClientDma(iova + offset, default, source, true);

    public override void Dispose() { }
}
