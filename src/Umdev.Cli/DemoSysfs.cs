using System.Text;
using Umdev.Core;
using Umdev.Interop;
using Umdev.Sysfs;

namespace Umdev.Cli;

/// <summary>
/// How the demo manages devices: through the mounted sysfs tree (open/write/close, read, readlink,
/// like the shell) when FUSE is available, otherwise through the core's own calls that the tree's
/// files are bound to. Both give the same text as the kernel's files.
/// </summary>
public abstract class DemoSysfs : IDisposable
{
    public const string ParentPath = "devices/virtual/mtty/mtty";

    public abstract string Describe { get; }
    public abstract string TypeAttribute(string typeId, string attribute);
    public abstract void Create(string typeId, string written);
    public abstract void Remove(string uuid, string written);
    public abstract string IommuGroupLink(string uuid);
    public abstract string? SocketPath(string uuid);
    public abstract bool DeviceExists(string uuid);

    /// <summary>True when the tree is a real mounted file system.</summary>
    public abstract bool IsMounted { get; }

    /// <summary>Shows a device directory as <c>tree</c> would (mounted tree only).</summary>
    public virtual void PrintDevice(string uuid, TextWriter output) { }

    public virtual void Dispose() { }

    public static DemoSysfs Open(MdevCore core, DemoReport report)
    {
        string dir = Directory.CreateTempSubdirectory("umdev-demo-sys-").FullName;
        try
        {
            var mount = SysfsMount.Start(core, dir);
            return new Mounted(mount, dir);
        }
        catch (Exception e) when (e is ErrnoException or IOException or UnauthorizedAccessException)
        {
            Directory.Delete(dir);
            report.Line($"(sysfs over FUSE not available here: {e.Message}; the demo uses the in-process interface)");
            return new InProcess(core);
        }
    }

    private sealed class Mounted(SysfsMount mount, string root) : DemoSysfs
    {
        public override string Describe => $"the sysfs tree mounted over FUSE at {root}";

        private string TypeDir(string typeId) => Path.Combine(root, ParentPath, "mdev_supported_types", typeId);
        private string DeviceDir(string uuid) => DeviceMigration.DevicePath(root, MdevUuid.Parse(uuid));

        public override string TypeAttribute(string typeId, string attribute) => File.ReadAllText(Path.Combine(TypeDir(typeId), attribute)).TrimEnd('\n');

        public override void Create(string typeId, string written) => AttributeFile.Write(Path.Combine(TypeDir(typeId), "create"), written);

        public override void Remove(string uuid, string written) => AttributeFile.Write(Path.Combine(DeviceDir(uuid), "remove"), written);

        public override string IommuGroupLink(string uuid) => new FileInfo(Path.Combine(DeviceDir(uuid), "iommu_group")).LinkTarget ?? "";

        public override string? SocketPath(string uuid) =>
            File.Exists(Path.Combine(DeviceDir(uuid), "vfio-user/socket")) ? DeviceMigration.SocketOf(root, MdevUuid.Parse(uuid)) : null;

        public override bool DeviceExists(string uuid) => Directory.Exists(DeviceDir(uuid));

        public override bool IsMounted => true;

        public override void PrintDevice(string uuid, TextWriter output) =>
            SysfsTreePrinter.Print(Path.Combine(root, ParentPath, uuid), output, showContent: true);

        public override void Dispose()
        {
            mount.Dispose();
            Directory.Delete(root);
        }
    }

    private sealed class InProcess(MdevCore core) : DemoSysfs
    {
        public override string Describe => "the in-process mediated core";

        private MdevType Type(string typeId) => core.FindParent("mtty")!.FindType(typeId)!;

        public override string TypeAttribute(string typeId, string attribute) => attribute switch
        {
            "name" => Type(typeId).Name,
            "device_api" => Type(typeId).DeviceApi,
            "available_instances" => Type(typeId).AvailableInstances.ToString(),
            _ => throw new ArgumentOutOfRangeException(nameof(attribute)),
        };

        public override void Create(string typeId, string written) => core.Create(Type(typeId), Encoding.ASCII.GetBytes(written));

        public override void Remove(string uuid, string written) => core.RemoveWrite(core.FindDevice(uuid)!, Encoding.ASCII.GetBytes(written));

        public override string IommuGroupLink(string uuid) => $"../../../../../kernel/iommu_groups/{core.FindDevice(uuid)!.IommuGroup}";

        public override string? SocketPath(string uuid) =>
            core.FindDevice(uuid)?.AttributeGroups.FirstOrDefault(g => g.Name == "vfio-user")?.Attributes.FirstOrDefault(a => a.Name == "socket")?.Show?.Invoke().TrimEnd('\n');

        public override bool DeviceExists(string uuid) => core.FindDevice(uuid) is not null;

        public override bool IsMounted => false;
    }
}
