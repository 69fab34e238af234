// What chat-bench reads about processes from /proc and the scheduler: CPU time, resident memory,
// and CPU affinity of every thread of a process (what `taskset -a -p` does).
// Thread use: free functions; each call reads /proc afresh and is safe from any thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace chat::bench {

// utime + stime of every thread of `pid`, live and exited, in microseconds
// (/proc/PID/stat, clock-tick resolution). nullopt when the process is gone.
std::optional<std::uint64_t> process_cpu_micros(pid_t pid);

// The CPU of a process tree: utime + stime of `root` and of every live descendant, plus the
// cutime + cstime of each (the children they have already reaped: a PostgreSQL backend that
// ended in the window still counts), in microseconds. nullopt when `root` is gone.
std::optional<std::uint64_t> process_tree_cpu_micros(pid_t root);

// `root` and its live descendants (the ppid fields of /proc/*/stat); empty when `root` is gone.
std::vector<pid_t> process_tree(pid_t root);

// utime + stime of this process so far (getrusage), in microseconds.
std::uint64_t self_cpu_micros();

// VmRSS of `pid` in bytes. nullopt when the process is gone.
std::optional<std::uint64_t> process_rss_bytes(pid_t pid);

// Parses a CPU list such as "0", "1,3" or "0-1". Empty on a malformed list.
std::vector<int> parse_cpu_list(const std::string& text);

// Restricts every thread of `pid` (0: this process) to `cpus`; threads created later inherit
// it. Returns false with `error` set when the kernel refuses.
bool pin_process(pid_t pid, const std::vector<int>& cpus, std::string& error);

}  // namespace chat::bench
