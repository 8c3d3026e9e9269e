using System.Buffers.Binary;
using Umdev.Virtio;

namespace Umdev.Devices.VirtioBlk.Tests;

/// <summary>
/// Seeded fuzzing of virtqueue contents: well-formed requests aimed at sectors 1024-1535, each with one
/// or two of its descriptors (direct or in an indirect table) or its ring entry corrupted at random. Every
/// request must end in a used element with a status byte the spec defines, or in DEVICE_NEEDS_RESET
/// (then the driver resets and goes on); the disk outside what any request could reach never changes,
/// and the daemon keeps serving.
/// </summary>
public sealed class VirtqueueFuzzTests : IDisposable
{
    private const int Seed = 0x5eed_b10c, Iterations = 300;
    private const ulong TargetSector = 1024;
    private const int GuardLowBytes = 1024 * 512, GuardHighFrom = 4096 * 512; // a request reaches at most 1 MiB past sector 1535
    private readonly DiskFixture _f = new();

    public void Dispose() => _f.Dispose();

    [Fact]
    public void CorruptedRequestsEndInAStatusOrNeedsResetAndNeverReachOutsideTheirSectors()
    {
        string path = _f.Backing(4 << 20, seed: 21);
        var before = File.ReadAllBytes(path);
        var d = _f.Connect(_f.Create(path));
        d.Start();
        var random = new Random(Seed);
        int completed = 0, resets = 0;
        for (int i = 0; i < Iterations; i++)
        {
            bool write = random.Next(2) == 0, indirect = random.Next(2) == 0;
            var data = new byte[512 * random.Next(1, 129)];
            random.NextBytes(data);
            uint type = random.Next(8) == 0 ? (uint)random.Next(20) : write ? VirtioBlk.Out : VirtioBlk.In;
            ulong sector = random.Next(8) == 0 ? 8192 - 1 : TargetSector + (ulong)random.Next(512 - data.Length / 512 + 1);
            var (head, status) = d.Build(type, sector, data, write, pieces: random.Next(1, 5), indirect);
            Corrupt(d, random, head, indirect);
            d.Publish(random.Next(16) == 0 ? (ushort)random.Next(ushort.MaxValue) : head);
            d.Kick();
            var used = d.WaitUsedOrNeedsReset(5000);
            if (used is null)
            {
                Assert.True((d.Status & VirtioStatus.DeviceNeedsReset) != 0, $"iteration {i}: neither a completion nor DEVICE_NEEDS_RESET");
                resets++;
                d.Start(map: false);
                continue;
            }
            completed++;
            Assert.Contains(d.Ram.At(status, 1)[0], new byte[] { VirtioBlk.Ok, VirtioBlk.IoErr, VirtioBlk.Unsupported, 0xff });
            if ((d.Status & VirtioStatus.DeviceNeedsReset) != 0)
            {
                resets++;
                d.Start(map: false);
            }
        }
        var after = File.ReadAllBytes(path);
        Assert.Equal(before.AsSpan(0, GuardLowBytes).ToArray(), after.AsSpan(0, GuardLowBytes).ToArray());
        Assert.Equal(before.AsSpan(GuardHighFrom).ToArray(), after.AsSpan(GuardHighFrom).ToArray());
        Assert.True(completed > Iterations / 4 && resets > Iterations / 10, $"{completed} completed, {resets} resets: the corruptions miss");
        Assert.Equal(VirtioBlk.Ok, d.Request(VirtioBlk.In, 0, new byte[4096], writeToDevice: false).Status);
    }

    /// <summary>One or two random changes to the request's descriptors: flags, next, length or address.</summary>
    private static void Corrupt(VirtioTestDriver d, Random random, ushort head, bool indirect)
    {
        int changes = random.Next(3);
        for (int c = 0; c < changes; c++)
        {
            ulong table = indirect && random.Next(4) != 0 ? VirtioTestDriver.Tables + (ulong)head * 0x400 : VirtioTestDriver.Desc;
            int index = table == VirtioTestDriver.Desc ? (head + random.Next(4)) % VirtioTestDriver.QueueSize : random.Next(6);
            var desc = d.Ram.At(table + (ulong)index * 16, 16);
            switch (random.Next(5))
            {
                case 0: desc[12] ^= (byte)(1 << random.Next(3)); break;                                         // NEXT, WRITE, INDIRECT
                case 1: BinaryPrimitives.WriteUInt16LittleEndian(desc[14..], (ushort)random.Next(70)); break; // next, around the queue size
                case 2: BinaryPrimitives.WriteUInt32LittleEndian(desc[8..], Length(random)); break;
                case 3: BinaryPrimitives.WriteUInt64LittleEndian(desc, Address(random)); break;
                default: desc[12] = (byte)random.Next(8); break;
            }
        }
    }

    private static uint Length(Random random) => random.Next(4) switch
    {
        0 => 0,
        1 => (uint)random.Next(1, 17),
        2 => uint.MaxValue - (uint)random.Next(16),
        _ => (uint)random.Next(1, 1 << 20), // at most 1 MiB: a request still ends before sector 4096
    };

    private static ulong Address(Random random) => random.Next(4) switch
    {
        0 => GuestMemory.Base + GuestMemory.Size - (ulong)random.Next(1, 4096),   // crossing the end
        1 => (ulong)random.NextInt64(),                                            // anywhere, mostly unmapped
        2 => GuestMemory.Base - (ulong)random.Next(1, 4096),                       // just before
        _ => VirtioTestDriver.Data + (ulong)random.Next(1 << 20),                 // the data area
    };
}
