namespace Umdev.DevicePlugin.Tests;

/// <summary>
/// What a container runtime does with an Allocate mount: a bind mount of <c>host_path</c> (here at a temporary
/// directory standing for <c>container_path</c>), so tests reach the device as the container would.
/// </summary>
public sealed class ContainerMount : IDisposable
{
    public ContainerMount(string hostPath)
    {
        Path = Directory.CreateTempSubdirectory("umdev-container-").FullName;
        Shell.Run("mount", "--bind", hostPath, Path).AssertSuccess();
    }

    /// <summary>Where the container sees the folder.</summary>
    public string Path { get; }

    public void Dispose()
    {
        Shell.Run("umount", Path).AssertSuccess();
        Directory.Delete(Path);
    }
}
