using System.Reflection;
using System.Runtime.CompilerServices;
using PublicApiGenerator;

namespace Umdev.PublicApi.Tests;

/// <summary>
/// The public API of every packed library, compared with the text approved in
/// <c>Approved/&lt;assembly&gt;.approved.txt</c>. A change to what driver authors compile against shows
/// up here first: on a mismatch the generated text is written next to it as <c>.received.txt</c>; review
/// the difference, then accept it by rerunning with <c>UMDEV_ACCEPT_API=1</c> (or copying the file).
/// </summary>
public sealed class PublicApiTests
{
    public static TheoryData<string> PackedAssemblies =>
    [
        "Umdev.Interop", "Umdev.Core", "Umdev.Vfio", "Umdev.VfioUser", "Umdev.VfioUser.Mdev", "Umdev.Virtio",
    ];

    [Theory]
    [MemberData(nameof(PackedAssemblies))]
    public void PublicApiMatchesTheApprovedText(string assemblyName)
    {
        var assembly = Assembly.Load(assemblyName);
        string received = Normalize(assembly.GeneratePublicApi(new ApiGeneratorOptions
        {
            // Attributes that say nothing about the API's shape, and change with the compiler.
            ExcludeAttributes =
            [
                "System.Runtime.Versioning.TargetFrameworkAttribute",
                "System.Reflection.AssemblyMetadataAttribute",
                "System.Runtime.CompilerServices.InternalsVisibleToAttribute", // which test sees internals is no contract
            ],
        }));
        string dir = Path.Combine(SourceDirectory(), "Approved");
        string approvedPath = Path.Combine(dir, assemblyName + ".approved.txt");
        string receivedPath = Path.Combine(dir, assemblyName + ".received.txt");
        string? approved = File.Exists(approvedPath) ? Normalize(File.ReadAllText(approvedPath)) : null;

        if (received == approved)
        {
            File.Delete(receivedPath);
            return;
        }
        if (Environment.GetEnvironmentVariable("UMDEV_ACCEPT_API") == "1")
        {
            Directory.CreateDirectory(dir);
            File.WriteAllText(approvedPath, received);
            File.Delete(receivedPath);
            return;
        }
        Directory.CreateDirectory(dir);
        File.WriteAllText(receivedPath, received);
        Assert.Fail(
            $"The public API of {assemblyName} differs from {approvedPath}" +
            (approved is null ? " (no approved file yet)" : "") + $".\nThe generated API is in {receivedPath}; " +
            $"compare them (diff -u {approvedPath} {receivedPath}) and, if the change is intended, rerun with UMDEV_ACCEPT_API=1.\n" +
            FirstDifference(approved ?? "", received));
    }

    private static string Normalize(string text) => text.ReplaceLineEndings("\n").TrimEnd() + "\n";

    private static string FirstDifference(string approved, string received)
    {
        string[] a = approved.Split('\n'), r = received.Split('\n');
        for (int i = 0; i < Math.Max(a.Length, r.Length); i++)
        {
            string left = i < a.Length ? a[i] : "<end>", right = i < r.Length ? r[i] : "<end>";
            if (left != right) return $"First difference at line {i + 1}:\n- {left}\n+ {right}";
        }
        return "";
    }

    /// <summary>The test's source directory, where the approved files are checked in.</summary>
    private static string SourceDirectory([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
