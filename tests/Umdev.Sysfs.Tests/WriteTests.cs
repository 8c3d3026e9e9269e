namespace Umdev.Sysfs.Tests;

/// <summary>Writes through the shell: create and remove act inside write(2) and report the kernel's errno.</summary>
public class WriteTests : IDisposable
{
    private const string U = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001";
    private readonly MountedTree _t = new();

    public void Dispose() => _t.Dispose();

    private string Create(string type) => Path.Combine(_t.TypeDir(type), "create");

    [Fact]
    public void CreateIsVisibleAtOnceAndRemoveTakesItAway()
    {
        Assert.Equal("24\n", _t.Available("mtty-1"));
        var r = Shell.Sh($"echo {U.ToUpperInvariant()} > {Create("mtty-2")} && cat {_t.TypeDir("mtty-1")}/available_instances && ls {_t.PathOf("bus/mdev/devices")}");
        r.AssertSuccess();
        Assert.Equal($"22\n{U}\n", r.Stdout); // the directory is named with the lowercase UUID
        r = Shell.Sh($"echo 1 > {_t.DeviceDir(U)}/remove && cat {_t.TypeDir("mtty-1")}/available_instances && ls {_t.PathOf("bus/mdev/devices")}");
        r.AssertSuccess();
        Assert.Equal("24\n", r.Stdout);
        Assert.False(Directory.Exists(_t.DeviceDir(U)));
        Assert.False(Directory.Exists(_t.PathOf("kernel/iommu_groups/0")));
    }

    [Fact]
    public void CreateErrorsReachTheShell()
    {
        Shell.Sh($"echo bad > {Create("mtty-1")}").AssertFails("Invalid argument");
        Shell.Sh($"echo \" {U}\" > {Create("mtty-1")}").AssertFails("Invalid argument");
        Shell.Sh($"echo {{{U}}} > {Create("mtty-1")}").AssertFails("Invalid argument");
        Shell.Sh($"printf %s {U} > {Create("mtty-1")}").AssertSuccess();
        Shell.Sh($"echo {U} > {Create("mtty-2")}").AssertFails("File exists");
        Assert.Equal("23\n", _t.Available("mtty-1"));
    }

    [Fact]
    public void FullPoolFailsWithNoSpace()
    {
        for (int i = 0; i < 12; i++)
            Shell.Sh($"echo 00000000-0000-0000-0000-0000000000{i:x2} > {Create("mtty-2")}").AssertSuccess();
        Assert.Equal("0\n", _t.Available("mtty-1"));
        Shell.Sh($"echo {U} > {Create("mtty-1")}").AssertFails("No space left on device");
        Assert.False(Directory.Exists(_t.DeviceDir(U)));
    }

    [Fact]
    public void RemoveParsesLikeKstrtoul()
    {
        Shell.Sh($"echo {U} > {Create("mtty-1")}").AssertSuccess();
        string remove = Path.Combine(_t.DeviceDir(U), "remove");
        Shell.Sh($"echo yes > {remove}").AssertFails("Invalid argument");
        Shell.Sh($"echo 0 > {remove}").AssertSuccess();
        Assert.True(Directory.Exists(_t.DeviceDir(U)));
        Shell.Sh($"printf 0x1 > {remove}").AssertSuccess();
        Assert.False(Directory.Exists(_t.DeviceDir(U)));
    }

    [Fact]
    public void PermissionsAndNamespaceAreRefusedAsSysfsRefusesThem()
    {
        Shell.Sh($"echo {U} > {Create("mtty-1")}").AssertSuccess();
        string type = _t.TypeDir("mtty-1");
        Shell.Sh($"cat {type}/create").AssertFails("Permission denied");                 // write-only, even for root
        Shell.Sh($"echo 3 > {type}/available_instances").AssertFails("Permission denied"); // read-only, even for root
        Shell.Sh($"touch {type}/newfile").AssertFails("Permission denied");
        Shell.Sh($"mkdir {type}/newdir").AssertFails("Operation not permitted");
        Shell.Sh($"rm -f {type}/name").AssertFails("Operation not permitted");
        Shell.Sh($"rmdir {type}/devices").AssertFails("Operation not permitted");
        Shell.Sh($"mv {type}/name {type}/name2").AssertFails("Operation not permitted");
        Shell.Sh($"ln -s x {type}/link").AssertFails("Operation not permitted");
        Shell.Sh($"chmod 600 {type}/name").AssertFails("Operation not permitted");
        Shell.Sh($"truncate -s 0 {_t.DeviceDir(U)}/uevent").AssertSuccess(); // sysfs ignores sizes
        Shell.Sh($"echo nonsense > {_t.DeviceDir(U)}/uevent").AssertFails("Invalid argument");
        Shell.Sh($"echo change > {_t.DeviceDir(U)}/uevent").AssertSuccess();
        Assert.Equal("Single port serial\n", File.ReadAllText(Path.Combine(type, "name")));
    }

    [Fact]
    public void OpenAttributeOfARemovedDeviceFailsWithNoDevice()
    {
        Shell.Sh($"echo {U} > {Create("mtty-1")}").AssertSuccess();
        using var uevent = File.OpenHandle(Path.Combine(_t.DeviceDir(U), "uevent"), FileMode.Open, FileAccess.Read);
        _t.Core.Remove(_t.Core.FindDevice(U)!);
        var e = Assert.ThrowsAny<IOException>(() => RandomAccess.Read(uevent, new byte[64], 0));
        Assert.Contains("No such device", e.Message);
    }

    [Fact]
    public void ManyProcessesWritingAtOnceKeepAccountingExact()
    {
        // 8 shells race 40 single-port creates for 24 ports: exactly 24 succeed, the rest get ENOSPC.
        var uuids = Enumerable.Range(0, 40).Select(i => $"00000000-0000-0000-0000-{i:x12}").ToArray();
        var shells = Enumerable.Range(0, 8).Select(k =>
        {
            var ordered = uuids.Skip(k * 5).Concat(uuids.Take(k * 5)); // each shell starts elsewhere
            string s = string.Join(" ; ", ordered.Select(u => $"echo {u} > {Create("mtty-1")} 2>/dev/null; true"));
            return Task.Run(() => Shell.Sh(s));
        }).ToArray();
        Task.WaitAll(shells);
        Assert.Equal(24, _t.Core.Devices.Count);
        Assert.Equal(24, Directory.GetFileSystemEntries(_t.PathOf("bus/mdev/devices")).Length);
        Assert.Equal("0\n", _t.Available("mtty-1"));
        Assert.Equal(24, Directory.GetDirectories(_t.PathOf("kernel/iommu_groups")).Length);

        var removers = _t.Core.Devices.Select(d => d.Name).Chunk(3).Select(chunk =>
            Task.Run(() => Shell.Sh(string.Join(" ; ", chunk.Select(u => $"echo 1 > {_t.PathOf($"bus/mdev/devices/{u}/remove")}"))))).ToArray();
        Task.WaitAll(removers);
        Assert.All(removers, r => r.Result.AssertSuccess());
        Assert.Equal("24\n", _t.Available("mtty-1"));
        Assert.Empty(Directory.GetFileSystemEntries(_t.PathOf("bus/mdev/devices")));
    }
}
