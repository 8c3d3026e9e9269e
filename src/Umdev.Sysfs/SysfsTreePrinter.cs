namespace Umdev.Sysfs;

/// <summary>
/// Prints a mounted directory as <c>tree</c> does (links as <c>name -&gt; target</c>, never followed),
/// through ordinary file-system calls, so what it shows is what any tool sees.
/// </summary>
public static class SysfsTreePrinter
{
    /// <param name="showContent">Appends each readable attribute's first line, like <c>grep . *</c> would.</param>
    public static void Print(string directory, TextWriter output, bool showContent = false)
    {
        output.WriteLine(directory);
        PrintChildren(new DirectoryInfo(directory), "", output, showContent);
    }

    private static void PrintChildren(DirectoryInfo dir, string indent, TextWriter output, bool showContent)
    {
        var children = dir.EnumerateFileSystemInfos().OrderBy(c => c.Name, StringComparer.Ordinal).ToArray();
        for (int i = 0; i < children.Length; i++)
        {
            var child = children[i];
            bool last = i == children.Length - 1;
            output.Write(indent);
            output.Write(last ? "└── " : "├── ");
            if (child.LinkTarget is { } target)
            {
                output.WriteLine($"{child.Name} -> {target}");
            }
            else if (child is DirectoryInfo sub)
            {
                output.WriteLine(child.Name);
                PrintChildren(sub, indent + (last ? "    " : "│   "), output, showContent);
            }
            else
            {
                output.WriteLine(showContent ? $"{child.Name}{Content(child)}" : child.Name);
            }
        }
    }

    private static string Content(FileSystemInfo file)
    {
        if ((file.UnixFileMode & (UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead)) == 0) return "";
        try
        {
            string text = File.ReadAllText(file.FullName);
            string first = text.Split('\n')[0];
            return text.Length == 0 ? "" : $"  \"{first}\"";
        }
        catch (IOException)
        {
            return ""; // e.g. power/autosuspend_delay_ms fails with EIO, as in sysfs
        }
    }
}
