namespace Umdev.Sysfs.Tests;

public class TreePrinterTests
{
    [Fact]
    public void PrintsTheMountedTypeDirectoryLikeTree()
    {
        using var t = new MountedTree();
        const string U = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001";
        File.WriteAllText(Path.Combine(t.TypeDir("mtty-2"), "create"), U);
        var output = new StringWriter();
        SysfsTreePrinter.Print(t.TypeDir("mtty-2"), output, showContent: true);
        Assert.Equal(
            $"{t.TypeDir("mtty-2")}\n" +
            "├── available_instances  \"11\"\n" +
            "├── create\n" +
            "├── device_api  \"vfio-pci\"\n" +
            "├── devices\n" +
            $"│   └── {U} -> ../../../{U}\n" +
            "└── name  \"Dual port serial\"\n",
            output.ToString());
    }
}
