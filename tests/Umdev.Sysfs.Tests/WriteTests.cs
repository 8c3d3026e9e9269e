namespace Umdev.Sysfs.Tests;

/// <summary>Writes through the shell: create and remove act inside write(2) and report the kernel's errno.</summary>
public class WriteTests : IDisposable
{
    private const string U = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001";
    private readonly MountedTree _t = new();

    public void Dispose() => _t.Dispose();

    private string Create(string type) => Path.Combine(_t.TypeDir(type), "create");

    private static void AssertFails(Shell.Result r, string message)
    {
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(message, r.Stderr);
    }

    [Fact]
    public void CreateIsVisibleAtOnceAndRemoveTakesItAway()
    {
        Assert.Equal("24\n", _t.Available("mtty-1"));
        var r = Shell.Sh($"echo {U.ToUpperInvariant()} > {Create("mtty-2")} && cat {_t.TypeDir("mtty-1")}/available_instances && ls {_t.PathOf("bus/mdev/devices")}");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal($"22\n{U}\n", r.Stdout); // the directory is named with the lowercase UUID
        r = Shell.Sh($"echo 1 > {_t.DeviceDir(U)}/remove && cat {_t.TypeDir("mtty-1")}/available_instances && ls {_t.PathOf("bus/mdev/devices")}");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("24\n", r.Stdout);
        Assert.False(Directory.Exists(_t.DeviceDir(U)));
        Assert.False(Directory.Exists(_t.PathOf("kernel/iommu_groups/0")));
    }

    [Fact]
    public void CreateErrorsReachTheShell()
    {
        AssertFails(Shell.Sh($"echo bad > {Create("mtty-1")}"), "Invalid argument");
        AssertFails(Shell.Sh($"echo \" {U}\" > {Create("mtty-1")}"), "Invalid argument");
        AssertFails(Shell.Sh($"echo {{{U}}} > {Create("mtty-1")}"), "Invalid argument");
        Assert.Equal(0, Shell.Sh($"printf %s {U} > {Create("mtty-1")}").ExitCode);
        AssertFails(Shell.Sh($"echo {U} > {Create("mtty-2")}"), "File exists");
        Assert.Equal("23\n", _t.Available("mtty-1"));
    }

    [Fact]
    public void FullPoolFailsWithNoSpace()
    {
        for (int i = 0; i < 12; i++)
            Assert.Equal(0, Shell.Sh($"echo 00000000-0000-0000-0000-0000000000{i:x2} > {Create("mtty-2")}").ExitCode);
        Assert.Equal("0\n", _t.Available("mtty-1"));
        AssertFails(Shell.Sh($"echo {U} > {Create("mtty-1")}"), "No space left on device");
        Assert.False(Directory.Exists(_t.DeviceDir(U)));
    }

    [Fact]
    public void RemoveParsesLikeKstrtoul()
    {
        Assert.Equal(0, Shell.Sh($"echo {U} > {Create("mtty-1")}").ExitCode);
        string remove = Path.Combine(_t.DeviceDir(U), "remove");
        AssertFails(Shell.Sh($"echo yes > {remove}"), "Invalid argument");
        Assert.Equal(0, Shell.Sh($"echo 0 > {remove}").ExitCode);
        Assert.True(Directory.Exists(_t.DeviceDir(U)));
        Assert.Equal(0, Shell.Sh($"printf 0x1 > {remove}").ExitCode);
        Assert.False(Directory.Exists(_t.DeviceDir(U)));
    }

    [Fact]
    public void PermissionsAndNamespaceAreRefusedAsSysfsRefusesThem()
    {
        Assert.Equal(0, Shell.Sh($"echo {U} > {Create("mtty-1")}").ExitCode);
        string type = _t.TypeDir("mtty-1");
        AssertFails(Shell.Sh($"cat {type}/create"), "Permission denied");                 // write-only, even for root
        AssertFails(Shell.Sh($"echo 3 > {type}/available_instances"), "Permission denied"); // read-only, even for root
        AssertFails(Shell.Sh($"touch {type}/newfile"), "Permission denied");
        AssertFails(Shell.Sh($"mkdir {type}/newdir"), "Operation not permitted");
        AssertFails(Shell.Sh($"rm -f {type}/name"), "Operation not permitted");
        AssertFails(Shell.Sh($"rmdir {type}/devices"), "Operation not permitted");
        AssertFails(Shell.Sh($"mv {type}/name {type}/name2"), "Operation not permitted");
        AssertFails(Shell.Sh($"ln -s x {type}/link"), "Operation not permitted");
        AssertFails(Shell.Sh($"chmod 600 {type}/name"), "Operation not permitted");
        Assert.Equal(0, Shell.Sh($"truncate -s 0 {_t.DeviceDir(U)}/uevent").ExitCode); // sysfs ignores sizes
        AssertFails(Shell.Sh($"echo nonsense > {_t.DeviceDir(U)}/uevent"), "Invalid argument");
        Assert.Equal(0, Shell.Sh($"echo change > {_t.DeviceDir(U)}/uevent").ExitCode);
        Assert.Equal("Single port serial\n", File.ReadAllText(Path.Combine(type, "name")));
    }

    [Fact]
    public void OpenAttributeOfARemovedDeviceFailsWithNoDevice()
    {
        Assert.Equal(0, Shell.Sh($"echo {U} > {Create("mtty-1")}").ExitCode);
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
        Assert.All(removers, r => Assert.Equal(0, r.Result.ExitCode));
        Assert.Equal("24\n", _t.Available("mtty-1"));
        Assert.Empty(Directory.GetFileSystemEntries(_t.PathOf("bus/mdev/devices")));
    }
}
