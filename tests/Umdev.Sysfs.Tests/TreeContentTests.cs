namespace Umdev.Sysfs.Tests;

/// <summary>The tree as ls, cat, readlink and find see it, with one mtty-2 device (mdev-sysfs.md §1–§6).</summary>
public class TreeContentTests : IDisposable
{
    private const string U = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001";
    private const string P = MountedTree.ParentDir;
    private readonly MountedTree _t = new();

    public TreeContentTests()
    {
        var r = Shell.Sh($"echo {U} > {_t.TypeDir("mtty-2")}/create");
        r.AssertSuccess();
    }

    public void Dispose() => _t.Dispose();

    [Fact]
    public void LsShowsTheKernelsModesAndSizes()
    {
        var expected = new Dictionary<string, string>
        {
            [$"{P}/mdev_supported_types/mtty-2/available_instances"] = "-r--r--r-- 4096",
            [$"{P}/mdev_supported_types/mtty-2/create"] = "--w------- 4096",
            [$"{P}/mdev_supported_types/mtty-2/device_api"] = "-r--r--r-- 4096",
            [$"{P}/mdev_supported_types/mtty-2/name"] = "-r--r--r-- 4096",
            [$"{P}/mdev_supported_types/mtty-2/devices"] = "drwxr-xr-x 0",
            [$"{P}/{U}/remove"] = "--w------- 4096",
            [$"{P}/{U}/uevent"] = "-rw-r--r-- 4096",
            [$"{P}/{U}/mdev_type"] = "lrwxrwxrwx 0",
            [$"{P}/{U}/vendor/sample_mdev_dev"] = "-r--r--r-- 4096",
            [$"{P}/{U}/power/control"] = "-rw-r--r-- 4096",
            [$"{P}/{U}/power/runtime_status"] = "-r--r--r-- 4096",
            [$"{P}/uevent"] = "-rw-r--r-- 4096",
            [$"{P}/mtty_dev/sample_mtty_dev"] = "-r--r--r-- 4096",
            ["bus/mdev/drivers/mtty/bind"] = "--w------- 4096",
            ["bus/mdev/drivers/mtty/unbind"] = "--w------- 4096",
            ["bus/mdev/drivers/mtty/uevent"] = "--w------- 4096",
            ["bus/mdev/drivers_autoprobe"] = "-rw-r--r-- 4096",
            ["bus/mdev/drivers_probe"] = "--w------- 4096",
            ["bus/mdev/uevent"] = "--w------- 4096",
            ["kernel/iommu_groups/0/name"] = "-r--r--r-- 4096",
            ["kernel/iommu_groups/0/type"] = "-rw-r--r-- 4096",
        };
        foreach (var (path, modeAndSize) in expected)
        {
            var r = Shell.Sh($"ls -ld {_t.PathOf(path)}");
            r.AssertSuccess();
            string[] f = r.Stdout.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(modeAndSize, $"{f[0]} {f[4]}");
            Assert.Equal(("root", "root"), (f[2], f[3]));
        }
        Assert.Equal(
            "available_instances create device_api devices name",
            Shell.Sh($"ls {_t.TypeDir("mtty-1")}").Stdout.ReplaceLineEndings(" ").Trim());
        Assert.Equal(
            $"driver iommu_group mdev_type power remove subsystem uevent vendor",
            Shell.Sh($"ls {_t.DeviceDir(U)}").Stdout.ReplaceLineEndings(" ").Trim());
    }

    [Fact]
    public void CatShowsEveryAttribute()
    {
        var expected = new Dictionary<string, string>
        {
            [$"{P}/mdev_supported_types/mtty-1/available_instances"] = "22\n",
            [$"{P}/mdev_supported_types/mtty-1/device_api"] = "vfio-pci\n",
            [$"{P}/mdev_supported_types/mtty-1/name"] = "Single port serial\n",
            [$"{P}/mdev_supported_types/mtty-2/available_instances"] = "11\n",
            [$"{P}/mdev_supported_types/mtty-2/device_api"] = "vfio-pci\n",
            [$"{P}/mdev_supported_types/mtty-2/name"] = "Dual port serial\n",
            [$"{P}/mtty_dev/sample_mtty_dev"] = "This is phy device\n",
            [$"{P}/uevent"] = "",
            [$"{P}/power/control"] = "auto\n",
            [$"{P}/{U}/uevent"] = "DRIVER=mtty\n",
            [$"{P}/{U}/vendor/sample_mdev_dev"] = $"This is MDEV {U}\n",
            [$"{P}/{U}/power/control"] = "auto\n",
            [$"{P}/{U}/power/runtime_status"] = "unsupported\n",
            [$"{P}/{U}/power/runtime_active_time"] = "0\n",
            [$"{P}/{U}/power/runtime_suspended_time"] = "0\n",
            ["bus/mdev/drivers_autoprobe"] = "1\n",
            ["kernel/iommu_groups/0/name"] = "vfio-noiommu\n",
            ["kernel/iommu_groups/0/reserved_regions"] = "",
            ["kernel/iommu_groups/0/type"] = "unknown\n",
        };
        foreach (var (path, content) in expected)
        {
            var r = Shell.Sh($"cat {_t.PathOf(path)}");
            r.AssertSuccess(path);
            Assert.Equal(content, r.Stdout);
        }
        var eio = Shell.Sh($"cat {_t.DeviceDir(U)}/power/autosuspend_delay_ms");
        Assert.Contains("Input/output error", eio.Stderr);
    }

    [Fact]
    public void ReadlinkShowsRelativeTargetsThatResolveInsideTheMount()
    {
        var expected = new Dictionary<string, string>
        {
            [$"{P}/{U}/driver"] = "../../../../../bus/mdev/drivers/mtty",
            [$"{P}/{U}/iommu_group"] = "../../../../../kernel/iommu_groups/0",
            [$"{P}/{U}/mdev_type"] = "../mdev_supported_types/mtty-2",
            [$"{P}/{U}/subsystem"] = "../../../../../bus/mdev",
            [$"{P}/subsystem"] = "../../../../class/mtty",
            [$"{P}/mdev_supported_types/mtty-2/devices/{U}"] = $"../../../{U}",
            ["class/mtty/mtty"] = "../../devices/virtual/mtty/mtty",
            ["class/mdev_bus/mtty"] = "../../devices/virtual/mtty/mtty",
            [$"bus/mdev/devices/{U}"] = $"../../../devices/virtual/mtty/mtty/{U}",
            [$"bus/mdev/drivers/mtty/{U}"] = $"../../../../devices/virtual/mtty/mtty/{U}",
            ["bus/mdev/drivers/mtty/module"] = "../../../../module/mtty",
            [$"kernel/iommu_groups/0/devices/{U}"] = $"../../../../devices/virtual/mtty/mtty/{U}",
        };
        foreach (var (path, target) in expected)
        {
            var r = Shell.Sh($"readlink {_t.PathOf(path)}");
            r.AssertSuccess(path);
            Assert.Equal(target + "\n", r.Stdout);
        }
        // What mdevctl relies on: canonicalising bus/mdev/devices/U lands in the parent directory.
        Assert.Equal(_t.DeviceDir(U) + "\n", Shell.Sh($"realpath {_t.PathOf($"bus/mdev/devices/{U}")}").Stdout);
        Assert.Equal(_t.TypeDir("mtty-2") + "\n", Shell.Sh($"realpath {_t.PathOf($"bus/mdev/devices/{U}/mdev_type")}").Stdout);
    }

    [Fact]
    public void FindListsTheIommuGroupLinks()
    {
        const string V = "00000000-0000-0000-0000-0000000000aa";
        Shell.Sh($"printf %s {V} > {_t.TypeDir("mtty-1")}/create").AssertSuccess();
        var r = Shell.Sh($"cd {_t.Dir} && find kernel/iommu_groups -type l | sort");
        Assert.Equal($"kernel/iommu_groups/0/devices/{U}\nkernel/iommu_groups/1/devices/{V}\n", r.Stdout);
    }
}
