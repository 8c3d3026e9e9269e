using System.Buffers.Binary;
using Umdev.Interop;
using Umdev.Vfio.Pci;

namespace Umdev.Vfio.Tests;

/// <summary>A PCI function declared once: what the model derives from its config space, and what it refuses.</summary>
public class PciDeclarationTests
{
    private static PciConfigLayout Config(byte pin = 0, int msi = 0, int msix = 0)
    {
        var b = new PciConfigSpaceBuilder().Ids(0x1b36, 0x00f1).InterruptPin(pin).MemoryBar(0, 0x1000);
        if (msi > 0) b.Msi(msi);
        if (msix > 0) b.MsiX(msix, 0, 0, 0, 0x800);
        return b.Build();
    }

    private sealed class PciOps(PciConfigLayout config, VfioInterrupts? interrupts = null, VfioCompatibility compatibility = default) : IVfioDeviceOps
    {
        public string Name => "pci-fake";

        public VfioDeviceLayout Layout { get; } = interrupts is null
            ? new() { Regions = [new VfioPciConfigRegion(config), new VfioEmulatedRegion(0, 0x1000, (_, d) => d.Clear(), (_, _) => { })], Compatibility = compatibility }
            : new() { Regions = [new VfioPciConfigRegion(config), new VfioEmulatedRegion(0, 0x1000, (_, d) => d.Clear(), (_, _) => { })], Interrupts = interrupts, Compatibility = compatibility };
    }

    private static VfioDeviceFile Open(IVfioDeviceOps ops)
    {
        var file = new VfioDevice("pci-" + Guid.NewGuid(), ops).Open();
        file.GetInfo();
        return file;
    }

    [Fact]
    public void IrqInfoIsDerivedFromTheConfigSpace()
    {
        using var file = Open(new PciOps(Config(pin: 1, msi: 4, msix: 8)));
        Assert.Equal(new VfioIrqInfo(VfioPci.IntxIrqIndex, VfioIrqInfoFlags.EventFd | VfioIrqInfoFlags.Maskable | VfioIrqInfoFlags.Automasked, 1), file.GetIrqInfo(VfioPci.IntxIrqIndex));
        Assert.Equal(4u, file.GetIrqInfo(VfioPci.MsiIrqIndex).Count);
        Assert.Equal(8u, file.GetIrqInfo(VfioPci.MsixIrqIndex).Count);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => file.GetIrqInfo(VfioPci.ErrIrqIndex)).Errno);
    }

    [Fact]
    public void NoPinMeansNoIntxAndNoCapabilityNoMsi()
    {
        using var file = Open(new PciOps(Config()));
        foreach (uint index in new[] { VfioPci.IntxIrqIndex, VfioPci.MsiIrqIndex, VfioPci.MsixIrqIndex })
            Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => file.GetIrqInfo(index)).Errno);
    }

    [Fact]
    public void ReqIsOfferedByDefault()
    {
        using var pci = Open(new PciOps(Config(pin: 1)));
        Assert.Equal(new VfioIrqInfo(VfioPci.ReqIrqIndex, VfioIrqInfoFlags.EventFd, 1), pci.GetIrqInfo(VfioPci.ReqIrqIndex));
        using var plain = Open(new FakeOps { Layout = new() { NumRegions = 0 } });
        Assert.Equal(1u, plain.GetIrqInfo(VfioPci.ReqIrqIndex).Count);
        Assert.True(new VfioInterruptSpec().Req);
        Assert.False(new VfioInterruptSpec(MsixVectors: 1).Intx); // no silent INTx or MSI vector
        Assert.Equal(0u, new VfioInterruptSpec(MsixVectors: 1).MsiVectors);
    }

    [Fact]
    public void InterruptsDeclaredTwiceMustAgree()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            new VfioDevice("x", new PciOps(Config(msix: 1), new VfioInterrupts(VfioInterruptSpec.IntxAndMsi))));
        Assert.Contains("disagree with config space", e.Message);
        // Alike, they are accepted (and REQ or ERR may be chosen freely).
        _ = new VfioDevice("y", new PciOps(Config(pin: 1, msi: 1), new VfioInterrupts(VfioInterruptSpec.IntxAndMsi with { Err = true, Req = false })));
    }

    [Fact]
    public void MsiWithoutCapabilityIsAnExplicitCompatibilityOption()
    {
        var config = Config(pin: 1);
        Assert.Throws<ArgumentException>(() => new VfioDevice("x", new PciOps(config, new VfioInterrupts(VfioInterruptSpec.IntxAndMsi))));
        using var file = Open(new PciOps(config, new VfioInterrupts(VfioInterruptSpec.IntxAndMsi), VfioCompatibility.MsiWithoutCapability));
        Assert.Equal(1u, file.GetIrqInfo(VfioPci.MsiIrqIndex).Count);
    }

    [Fact]
    public void SetIrqsWithoutAnActionIsEnottyUnlessTheSamplesBehaviourIsAskedFor()
    {
        var set = new VfioIrqSet(VfioIrqSetFlags.DataNone, VfioPci.IntxIrqIndex, 0, 1);
        using var strict = Open(new PciOps(Config(pin: 1)));
        Assert.Equal(Errno.ENOTTY, Assert.Throws<ErrnoException>(() => strict.SetIrqs(new VfioIrqSet(VfioIrqSetFlags.DataNone, VfioPci.IntxIrqIndex, 0, 1))).Errno);
        using var sample = Open(new PciOps(Config(pin: 1), compatibility: VfioCompatibility.SetIrqsWithoutAction));
        sample.SetIrqs(set);
    }

    [Fact]
    public void UndeclaredIrqsCountZeroIsAnExplicitCompatibilityOption()
    {
        using var file = Open(new PciOps(Config(), compatibility: VfioCompatibility.UndeclaredIrqsCountZero));
        Assert.Equal(new VfioIrqInfo(VfioPci.IntxIrqIndex, VfioIrqInfoFlags.None, 0), file.GetIrqInfo(VfioPci.IntxIrqIndex));
    }

    [Fact]
    public void IrqInfoNeedsDeviceInfoIsAnExplicitCompatibilityOption()
    {
        using var file = new VfioDevice("z", new PciOps(Config(pin: 1), compatibility: VfioCompatibility.IrqInfoNeedsDeviceInfo)).Open();
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => file.GetIrqInfo(VfioPci.IntxIrqIndex)).Errno);
        file.GetInfo();
        Assert.Equal(1u, file.GetIrqInfo(VfioPci.IntxIrqIndex).Count);
    }

    /// <summary>
    /// A hook that increments a counter with a slow read-modify-write and no lock of its own: only the
    /// model's serialisation of config accesses keeps two writers from losing increments.
    /// </summary>
    [Fact]
    public void ConfigWritesFromTwoThreadsAreSerialisedByTheModel()
    {
        const int Counter = 0x40, PerThread = 2000;
        var config = new PciConfigSpaceBuilder().Ids(0x1b36, 0x00f2).Hook(Counter, 4, (space, offset, _) =>
        {
            uint value = space.ReadUInt32(Counter);
            Thread.SpinWait(50);
            space.StoreUInt32(Counter, value + 1);
        }).Build();
        using var file = Open(new FakeOps { Layout = new() { Regions = [new VfioPciConfigRegion(config)] } });
        using var start = new Barrier(2);
        var writers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            start.SignalAndWait();
            for (int i = 0; i < PerThread; i++) file.WriteRegion(VfioPci.ConfigRegionIndex, Counter, [1, 0, 0, 0]);
        })).ToArray();
        Task.WaitAll(writers);
        var bytes = new byte[4];
        file.ReadRegion(VfioPci.ConfigRegionIndex, Counter, bytes);
        Assert.Equal((uint)(2 * PerThread), BinaryPrimitives.ReadUInt32LittleEndian(bytes));
    }

    private sealed class BarOps(PciConfigLayout config, params VfioRegion[] regions) : IVfioDeviceOps
    {
        public string Name => "bar-fake";

        public VfioDeviceLayout Layout { get; } = new() { Regions = [new VfioPciConfigRegion(config), .. regions] };
    }

    private static VfioRegion Emulated(uint index, ulong size) => new VfioEmulatedRegion(index, size, (_, d) => d.Fill(0xab), (_, _) => { });

    [Fact]
    public void ABarAndItsRegionMustHaveOneSize()
    {
        var config = new PciConfigSpaceBuilder().MemoryBar(0, 0x1000).Build();
        var e = Assert.Throws<ArgumentException>(() => new VfioDevice("x", new BarOps(config, Emulated(0, 0x2000))));
        Assert.Contains("BAR 0 is 0x1000 bytes in config space but its region is 0x2000 bytes", e.Message);
        e = Assert.Throws<ArgumentException>(() => new VfioDevice("x", new BarOps(config)));
        Assert.Contains("BAR 0 is 0x1000 bytes in config space but its region is not declared", e.Message);
        _ = new VfioDevice("ok", new BarOps(config, Emulated(0, 0x1000)));
    }

    [Fact]
    public void ARegionServesADeclaredBarOnly()
    {
        var config = new PciConfigSpaceBuilder().MemoryBar(0, 0x1000, is64Bit: true).Build();
        var e = Assert.Throws<ArgumentException>(() => new VfioDevice("x", new BarOps(config, Emulated(0, 0x1000), Emulated(2, 16))));
        Assert.Contains("region 2 of 0x10 bytes serves no BAR", e.Message);
        e = Assert.Throws<ArgumentException>(() => new VfioDevice("x", new BarOps(config, Emulated(0, 0x1000), Emulated(1, 16))));
        Assert.Contains("upper half of 64-bit BAR 0", e.Message);
        _ = new VfioDevice("ok", new BarOps(config, Emulated(0, 0x1000), VfioRegion.Empty(2)));
    }

    [Fact]
    public void AnIoBarIsNeverMappable()
    {
        var config = new PciConfigSpaceBuilder().IoBar(0, 256).Build();
        var memory = new VfioMemoryRegion(0, 256); // its memfd closes with the test process
        var e = Assert.Throws<ArgumentException>(() => new VfioDevice("x", new BarOps(config, memory)));
        Assert.Contains("I/O BAR", e.Message);
    }

    [Fact]
    public void AnMsiXOnlyBarIsServedByTheModel()
    {
        var config = new PciConfigSpaceBuilder().MemoryBar(1, 0x1000).MemoryBar(4, 0x4000, is64Bit: true)
            .MsiX(3, 1, 0, 1, 0x800).Build();
        using var file = Open(new BarOps(config, Emulated(4, 0x4000)));
        var info = file.GetRegionInfo(1);
        Assert.Equal((VfioRegionFlags.Read | VfioRegionFlags.Write, 0x1000ul), (info.Flags, info.Size));
        file.WriteRegion(1, 0, [1, 2, 3, 4]);
        var bytes = new byte[] { 9, 9, 9, 9 };
        file.ReadRegion(1, 0, bytes);
        Assert.Equal(new byte[4], bytes);
        Assert.Equal(3u, file.GetIrqInfo(VfioPci.MsixIrqIndex).Count);
        Assert.Equal(Errno.EINVAL, Assert.Throws<ErrnoException>(() => file.ReadRegion(1, 0x1000, new byte[1])).Errno);
    }
}
