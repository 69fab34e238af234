// How many CPUs this process may run on: what a default thread count should follow.
//
// std::thread::hardware_concurrency() counts the machine's CPUs. A process pinned to fewer
// (taskset, systemd's CPUAffinity=, a container's cpuset) or given a CPU quota (cgroup v2
// cpu.max: docker --cpus, Kubernetes limits, systemd's CPUQuota=) runs more threads than it
// has CPUs, and a request waits a scheduler time slice for its thread. usable_cpus() is the
// smaller of the affinity mask and the quota (rounded up), at least 1.
// Thread use: any thread (it reads the calling thread's affinity, which a new thread inherits).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace chat {

struct CpuCount {
    unsigned usable = 1;            // min(affinity, quota), at least 1
    unsigned affinity = 1;          // CPUs in the affinity mask
    std::optional<unsigned> quota;  // CPUs the cgroup quota allows, if one is set
    std::string describe() const;   // "2 (affinity 2, quota 1)", for the log
};

CpuCount usable_cpus();

// A cgroup v2 cpu.max line ("QUOTA PERIOD" in µs, or "max PERIOD"): the CPUs it allows, rounded
// up; none for "max" or a line that does not parse.
std::optional<unsigned> cpus_from_cpu_max(std::string_view line);

// The cgroup v2 path of this process from a /proc/self/cgroup text ("0::/PATH"); none without
// a v2 entry.
std::optional<std::string> cgroup_v2_path(std::string_view proc_self_cgroup);

}  // namespace chat
