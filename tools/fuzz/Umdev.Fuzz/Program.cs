using SharpFuzz;

namespace Umdev.Fuzz;

/// <summary>
/// afl-fuzz entry point. <c>Umdev.Fuzz TARGET</c> serves afl-fuzz (input on standard input);
/// <c>--replay FILE</c> runs one input and prints what it threw; <c>--seeds DIR</c> writes the generated seeds.
/// A target throws only for a failure: the expected refusals (errno errors, broken rings) are caught inside it.
/// </summary>
public static class Program
{
    private static readonly Dictionary<string, Func<IFuzzTarget>> Targets = new()
    {
        ["vfio-user"] = () => new VfioUserTarget(),
        ["virtqueue"] = () => new VirtqueueTarget(),
        ["fuse"] = () => new FuseTarget(),
    };

    public static int Main(string[] args)
    {
        if (args.Length == 0 || !Targets.TryGetValue(args[0], out var make))
        {
            Console.Error.WriteLine($"usage: Umdev.Fuzz {{{string.Join('|', Targets.Keys)}}} [--replay FILE | --seeds DIR]");
            return 2;
        }
        if (args.Length == 3 && args[1] == "--replay")
        {
            try
            {
                make().Run(File.ReadAllBytes(args[2]));
                Console.WriteLine($"{args[0]}: {args[2]} ran without a failure");
                return 0;
            }
            catch (Exception e)
            {
                Console.WriteLine($"{args[0]}: {args[2]} fails:\n{e}");
                return 1;
            }
        }
        if (args.Length == 3 && args[1] == "--seeds")
        {
            Directory.CreateDirectory(args[2]);
            foreach (var (name, bytes) in make().Seeds()) File.WriteAllBytes(Path.Combine(args[2], name), bytes);
            return 0;
        }
        // Instrumented code may run only inside the callback: SharpFuzz sets up the coverage map there.
        IFuzzTarget? target = null;
        Fuzzer.OutOfProcess.Run(stream =>
        {
            target ??= make();
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            target.Run(copy.ToArray());
        });
        return 0;
    }
}

/// <summary>One fuzz target: runs an input (throwing only for a failure) and makes its seeds.</summary>
public interface IFuzzTarget
{
    void Run(byte[] input);

    IEnumerable<(string Name, byte[] Bytes)> Seeds();
}
