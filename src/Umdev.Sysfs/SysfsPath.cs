namespace Umdev.Sysfs;

/// <summary>Paths inside the tree: '/'-separated, relative to the mount, the root being "".</summary>
public static class SysfsPath
{
    public static string Combine(string dir, string name) => dir.Length == 0 ? name : $"{dir}/{name}";

    public static string BaseName(string path) => path[(path.LastIndexOf('/') + 1)..];

    public static string Parent(string path)
    {
        int slash = path.LastIndexOf('/');
        return slash < 0 ? "" : path[..slash];
    }

    /// <summary>
    /// The link text sysfs writes for a link at <paramref name="linkPath"/> to <paramref name="targetPath"/>:
    /// up from the link's directory to the closest common ancestor, then down (sysfs_do_create_link / kernfs_get_target_path).
    /// </summary>
    public static string RelativeLink(string linkPath, string targetPath)
    {
        string[] from = Split(Parent(linkPath));
        string[] to = Split(targetPath);
        int common = 0;
        while (common < from.Length && common < to.Length && from[common] == to[common]) common++;
        var parts = Enumerable.Repeat("..", from.Length - common).Concat(to.Skip(common));
        return string.Join('/', parts);
    }

    private static string[] Split(string path) => path.Length == 0 ? [] : path.Split('/');
}
