using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Umdev.DevicePlugin.Api.V1Beta1;
using Umdev.Interop;

namespace Umdev.DevicePlugin;

/// <summary>
/// One extended resource, <c>&lt;prefix&gt;/&lt;type&gt;</c>: the slots an mdev type can fill on every parent
/// that offers it, their health, and the devices allocated to them. Slot IDs are <c>&lt;parent&gt;-&lt;n&gt;</c>,
/// so they stay the same across plugin restarts. A slot holds no device until Allocate creates one with a fresh
/// UUID; the device stays until the slot is allocated again or the reconcile finds no pod holding it.
/// </summary>
public sealed partial class MdevResource
{
    /// <summary>kubelet's health words.</summary>
    public const string Healthy = "Healthy", Unhealthy = "Unhealthy";

    private static readonly TimeSpan SocketTimeout = TimeSpan.FromSeconds(10);
    private readonly MdevTree _tree;
    private readonly SlotAssignments _state;
    private readonly string _sockets;
    private readonly ILogger _logger;
    private readonly HashSet<string> _ignored = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly Dictionary<string, DateTime> _allocatedAt = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _slotsPerParent = new(StringComparer.Ordinal);
    private IReadOnlyList<Device> _devices = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// The resource of <paramref name="type"/> (the mdev type id, e.g. <c>mtty-2</c>) named under
    /// <paramref name="prefix"/>; its devices' sockets must lie under <paramref name="sockets"/>, the folder
    /// whose host path the mounts name. Warnings (state entries ignored) go to <paramref name="logger"/>.
    /// </summary>
    public MdevResource(MdevTree tree, SlotAssignments state, string prefix, string sockets, string type, ILogger? logger = null)
    {
        _logger = logger ?? NullLogger.Instance;
        _tree = tree;
        _state = state;
        _sockets = Path.TrimEndingDirectorySeparator(Path.GetFullPath(sockets)) + "/";
        Type = type;
        Name = $"{prefix}/{type}";
        foreach (string slot in state.Of(Name).Keys) _allocatedAt[slot] = DateTime.UtcNow; // a restart's grace, as a fresh allocation's
    }

    /// <summary>The mdev type id.</summary>
    public string Type { get; }

    /// <summary>The extended resource name kubelet schedules.</summary>
    public string Name { get; }

    /// <summary>The devices as last advertised.</summary>
    public IReadOnlyList<Device> Devices { get { lock (_lock) return _devices; } }

    /// <summary>Completes when <see cref="Devices"/> next changes.</summary>
    public Task Changed { get { lock (_lock) return _changed.Task; } }

    /// <summary>
    /// Reads the tree again and re-derives the list: slots per parent (the most it has offered: available
    /// instances plus the slots holding a device, so IDs never vanish from kubelet's view), health (the tree
    /// answers and the type is there; a held slot's device and socket exist; of the free slots, as many as
    /// the type has instances available, lowest first — the rest are Unhealthy while other devices use the
    /// room), and re-creates, with its recorded UUID, a held device a restarted daemon no longer has. A state
    /// entry beyond the type's capacity on its parent is ignored, with a warning (see <see cref="WithinCapacity"/>).
    /// </summary>
    public void Refresh() => Refresh(_tree.Types());

    /// <summary><see cref="Refresh()"/> with the tree's types already listed (one listing serves every resource of a poll).</summary>
    public void Refresh(IReadOnlyList<MdevTypeDir> treeTypes)
    {
        lock (_lock)
        {
            var types = TypesOnParents(treeTypes);
            var held = WithinCapacity(_state.Of(Name), types);
            var heldHere = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var (slot, uuid) in held)
            {
                string parent = ParentOf(slot);
                if (!types.TryGetValue(parent, out var type)) continue;
                if (_tree.Exists(uuid) || (Restore(type, uuid) && _tree.Exists(uuid))) heldHere[parent] = heldHere.GetValueOrDefault(parent) + 1;
            }
            var freeRoom = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var (parent, type) in types)
            {
                if (MdevTree.AvailableInstances(type) is not { } available) continue;
                _slotsPerParent[parent] = Math.Max(_slotsPerParent.GetValueOrDefault(parent), available + heldHere.GetValueOrDefault(parent));
                freeRoom[parent] = available;
            }
            var ids = new HashSet<string>(held.Keys, StringComparer.Ordinal);
            foreach (var (parent, count) in _slotsPerParent)
                for (int i = 0; i < count; i++) ids.Add(SlotId(parent, i));
            var devices = new List<Device>();
            foreach (string id in ids.OrderBy(ParentOf, StringComparer.Ordinal).ThenBy(IndexOf))
            {
                string parent = ParentOf(id);
                bool healthy;
                if (held.TryGetValue(id, out var uuid)) healthy = types.ContainsKey(parent) && _tree.SocketOf(uuid) is not null;
                else if (freeRoom.GetValueOrDefault(parent) > 0)
                {
                    freeRoom[parent]--;
                    healthy = true;
                }
                else healthy = false;
                devices.Add(new Device { ID = id, Health = healthy ? Healthy : Unhealthy });
            }
            if (devices.SequenceEqual(_devices)) return;
            _devices = devices;
            var changed = _changed;
            _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
            changed.SetResult();
        }
    }

    /// <summary>
    /// Removes each slot's old device, creates a new one with a fresh UUID, waits for its socket and records
    /// the assignments. On any failure the devices this call created are removed again and an
    /// <see cref="RpcException"/> says why.
    /// </summary>
    public IReadOnlyList<SlotDevice> Allocate(IReadOnlyList<string> slots)
    {
        lock (_lock)
        {
            if (!_tree.IsServing)
                throw new RpcException(new Status(StatusCode.Unavailable, $"{Name}: the umdev daemon does not answer at {_tree.Root} (is `umdev serve` running?)"));
            var known = _devices.Select(d => d.ID).ToHashSet(StringComparer.Ordinal);
            string[] unknown = slots.Where(s => !known.Contains(s)).Distinct().ToArray();
            if (unknown.Length > 0)
                throw new RpcException(new Status(StatusCode.InvalidArgument, $"{Name}: unknown device IDs: {string.Join(", ", unknown)} (this plugin advertises {string.Join(", ", known.Order(StringComparer.Ordinal))})"));
            if (slots.Distinct().Count() != slots.Count)
                throw new RpcException(new Status(StatusCode.InvalidArgument, $"{Name}: a device ID is requested twice: {string.Join(", ", slots)}"));
            var types = TypesOnParents();
            var held = _state.Of(Name);
            var freed = new List<string>();
            var created = new List<SlotDevice>();
            try
            {
                foreach (string slot in slots)
                {
                    if (held.TryGetValue(slot, out var old))
                    {
                        RemoveDevice(slot, old);
                        freed.Add(slot);
                    }
                    if (!types.TryGetValue(ParentOf(slot), out var type))
                        throw new RpcException(new Status(StatusCode.Unavailable, $"{Name}: parent {ParentOf(slot)} no longer offers {Type}"));
                    created.Add(CreateDevice(slot, type));
                }
            }
            catch
            {
                foreach (var device in created) _tree.Remove(device.Uuid);
                _state.Update(Name, freed, []);
                throw;
            }
            _state.Update(Name, freed, created.Select(d => (d.Slot, d.Uuid)));
            foreach (var device in created) _allocatedAt[device.Slot] = DateTime.UtcNow;
            return created;
        }
    }

    /// <summary>Removes the devices of slots no pod holds (<paramref name="inUse"/>), except those allocated within <paramref name="grace"/>.</summary>
    public IReadOnlyList<string> Free(IReadOnlySet<string> inUse, TimeSpan grace)
    {
        lock (_lock)
        {
            var freed = new List<string>();
            foreach (var (slot, uuid) in _state.Of(Name))
            {
                if (inUse.Contains(slot) || DateTime.UtcNow - _allocatedAt.GetValueOrDefault(slot) < grace) continue;
                try { RemoveDevice(slot, uuid); }
                catch (RpcException) { continue; } // still in use (a VMM connected): tried again next time
                freed.Add(slot);
            }
            if (freed.Count > 0) _state.Update(Name, freed, []);
            return freed;
        }
    }

    private SlotDevice CreateDevice(string slot, MdevTypeDir type)
    {
        var uuid = Guid.NewGuid();
        try { MdevTree.Create(type, uuid); }
        catch (ErrnoException e) when (e.Errno == Errno.ENOSPC)
        {
            throw new RpcException(new Status(StatusCode.ResourceExhausted, $"{Name}: slot {slot}: {type.Parent} has no {Type} instance left (create: {ErrnoException.Describe(e.Errno)})"));
        }
        catch (ErrnoException e)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, $"{Name}: slot {slot}: creating {MdevTree.Name(uuid)} failed: {e.Message}"));
        }
        var deadline = DateTime.UtcNow + SocketTimeout;
        while (true)
        {
            if (_tree.SocketOf(uuid) is { } socket)
            {
                if (socket.StartsWith(_sockets, StringComparison.Ordinal)) return new SlotDevice(slot, uuid, socket);
                _tree.Remove(uuid);
                throw new RpcException(new Status(StatusCode.FailedPrecondition, $"{Name}: the daemon serves {MdevTree.Name(uuid)} at {socket}, outside the socket directory {_sockets} this plugin was given (--sockets)"));
            }
            if (DateTime.UtcNow > deadline)
            {
                _tree.Remove(uuid);
                throw new RpcException(new Status(StatusCode.Unavailable, $"{Name}: slot {slot}: device {MdevTree.Name(uuid)} got no vfio-user socket within {SocketTimeout.TotalSeconds:0} s"));
            }
            Thread.Sleep(5);
        }
    }

    private void RemoveDevice(string slot, Guid uuid)
    {
        try { _tree.Remove(uuid); }
        catch (ErrnoException e)
        {
            throw new RpcException(new Status(e.Errno == Errno.EBUSY ? StatusCode.FailedPrecondition : StatusCode.Unavailable,
                $"{Name}: slot {slot}: its previous device {MdevTree.Name(uuid)} could not be removed: {e.Message}"));
        }
        _allocatedAt.Remove(slot);
    }

    /// <summary>
    /// The state's entries less those naming a slot beyond the type's capacity on a parent that offers it: the
    /// most the parent has offered in this run, or its available instances plus the devices of the type it has,
    /// whichever is more. Such an entry (a state file edited or from another node) is never re-created nor
    /// advertised; one whose device exists is kept, as the device shows the slot was real (room the type
    /// shares with other types may be taken). While the parent is away nothing can be judged and all are kept.
    /// </summary>
    private Dictionary<string, Guid> WithinCapacity(IReadOnlyDictionary<string, Guid> state, Dictionary<string, MdevTypeDir> types)
    {
        var held = new Dictionary<string, Guid>(StringComparer.Ordinal);
        var capacity = new Dictionary<string, int?>(StringComparer.Ordinal); // read once per parent
        foreach (var (slot, uuid) in state)
        {
            string parent = ParentOf(slot);
            int? most = null; // null: nothing to judge by (the parent is away or its tree unreadable)
            if (types.TryGetValue(parent, out var type) && !capacity.TryGetValue(parent, out most))
                capacity[parent] = most = CapacityOf(parent, type);
            if (IndexOf(slot) >= most && !_tree.Exists(uuid))
            {
                if (_ignored.Add(slot)) LogBeyondCapacity(Name, slot, MdevTree.Name(uuid), parent);
                continue;
            }
            _ignored.Remove(slot);
            held[slot] = uuid;
        }
        return held;
    }

    private int? CapacityOf(string parent, MdevTypeDir type) => MdevTree.AvailableInstances(type) is { } available
        ? Math.Max(_slotsPerParent.GetValueOrDefault(parent), available + MdevTree.DeviceCount(type))
        : null;

    [LoggerMessage(EventId = 707, Level = LogLevel.Warning, Message = "device-plugin: {Resource}: state entry {Slot} ({Uuid}) is beyond the type's capacity on {Parent}; ignored")]
    private partial void LogBeyondCapacity(string resource, string slot, string uuid, string parent);

    private static bool Restore(MdevTypeDir type, Guid uuid)
    {
        try
        {
            MdevTree.Create(type, uuid);
            return true;
        }
        catch (ErrnoException)
        {
            return false; // the slot stays Unhealthy; tried again on the next refresh
        }
    }

    private Dictionary<string, MdevTypeDir> TypesOnParents(IReadOnlyList<MdevTypeDir>? treeTypes = null) =>
        (treeTypes ?? _tree.Types()).Where(t => t.Type == Type).ToDictionary(t => t.Parent, StringComparer.Ordinal);

    private static string SlotId(string parent, int index) => $"{parent}-{index}";

    private static int IndexOf(string slot) => int.TryParse(slot.AsSpan(slot.LastIndexOf('-') + 1), out int i) ? i : int.MaxValue;

    private static string ParentOf(string slot) => slot.LastIndexOf('-') is var i and >= 0 ? slot[..i] : "";
}
