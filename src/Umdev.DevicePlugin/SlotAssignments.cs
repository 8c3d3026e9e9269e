using System.Text.Json;
using System.Text.Json.Serialization;

namespace Umdev.DevicePlugin;

/// <summary>
/// The state file: which mdev (UUID) each allocated slot holds, per resource. kubelet checkpoints slot IDs, so
/// a restarted plugin must find the same devices behind them. Every change is written whole to a temporary
/// file, flushed and renamed over the old one, so a crash leaves the old or the new state, never a torn one.
/// </summary>
public sealed class SlotAssignments
{
    private readonly string _path;
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, SortedDictionary<string, Guid>> _byResource;

    private SlotAssignments(string path, SortedDictionary<string, SortedDictionary<string, Guid>> byResource)
    {
        _path = path;
        _byResource = byResource;
    }

    /// <summary>Reads <paramref name="path"/>, or starts empty if it does not exist yet.</summary>
    public static SlotAssignments Load(string path)
    {
        path = Path.GetFullPath(path);
        if (!File.Exists(path)) return new SlotAssignments(path, new(StringComparer.Ordinal));
        var read = JsonSerializer.Deserialize(File.ReadAllText(path), SlotAssignmentsJson.Default.DictionaryStringDictionaryStringGuid)
            ?? throw new InvalidDataException($"state file {path} holds no assignments");
        var state = new SortedDictionary<string, SortedDictionary<string, Guid>>(StringComparer.Ordinal);
        foreach (var (resource, slots) in read) state[resource] = new(slots, StringComparer.Ordinal);
        return new SlotAssignments(path, state);
    }

    /// <summary>The resources with at least one slot holding a device.</summary>
    public IReadOnlyList<string> Resources { get { lock (_lock) return _byResource.Keys.ToArray(); } }

    /// <summary>The slots of <paramref name="resource"/> that hold a device.</summary>
    public IReadOnlyDictionary<string, Guid> Of(string resource)
    {
        lock (_lock) return _byResource.TryGetValue(resource, out var slots) ? new Dictionary<string, Guid>(slots) : [];
    }

    /// <summary>Applies removals then assignments for one resource, and writes the file.</summary>
    public void Update(string resource, IEnumerable<string> freed, IEnumerable<(string Slot, Guid Uuid)> assigned)
    {
        lock (_lock)
        {
            if (!_byResource.TryGetValue(resource, out var slots)) _byResource[resource] = slots = new(StringComparer.Ordinal);
            foreach (string slot in freed) slots.Remove(slot);
            foreach (var (slot, uuid) in assigned) slots[slot] = uuid;
            if (slots.Count == 0) _byResource.Remove(resource);
            Save();
        }
    }

    private void Save()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        string temp = _path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write))
        {
            JsonSerializer.Serialize(file, _byResource, SlotAssignmentsJson.Default.SortedDictionaryStringSortedDictionaryStringGuid);
            file.Flush(flushToDisk: true);
        }
        File.Move(temp, _path, overwrite: true);
    }
}

/// <summary>The state file's JSON, generated at build time so that a trimmed or AOT-published umdev keeps it.</summary>
[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(Dictionary<string, Dictionary<string, Guid>>))]
[JsonSerializable(typeof(SortedDictionary<string, SortedDictionary<string, Guid>>))]
internal sealed partial class SlotAssignmentsJson : JsonSerializerContext;
