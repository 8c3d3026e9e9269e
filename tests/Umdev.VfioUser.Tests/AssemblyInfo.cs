// Descriptor-leak checks count /proc/self/fd: tests of this assembly must not run concurrently.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
