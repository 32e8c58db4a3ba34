// Package sandbox starts and supervises the processes of execution
// environments (the runtime's bootstrap and its children) with the isolation
// the host allows:
//
//   - its own process group, killed as a whole, and SIGKILL if the engine dies;
//   - an unprivileged user (uid/gid 65534 "nobody" by default) when the
//     engine runs as root;
//   - a memory limit of the function's MemorySize: a cgroup v2 memory.max
//     (process placed atomically with CLONE_INTO_CGROUP) or a cgroup v1
//     memory.limit_in_bytes when the engine may create cgroups, otherwise
//     RLIMIT_DATA (not RLIMIT_AS: V8 and the JVM reserve far more address
//     space than they use, so an address-space cap kills them at start);
//   - the file-descriptor limit Lambda applies (1,024);
//   - Max Memory Used measured as the cgroup's peak (memory.peak or
//     memory.max_usage_in_bytes), else the process's peak RSS (VmHWM).
//
// It is Linux-specific and imports only the standard library.
package sandbox
