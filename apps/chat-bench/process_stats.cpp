// Process statistics and pinning from /proc (see process_stats.hpp).
#include "process_stats.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace chat::bench {

namespace {

std::uint64_t timeval_micros(const timeval& tv) {
    return static_cast<std::uint64_t>(tv.tv_sec) * 1'000'000u +
           static_cast<std::uint64_t>(tv.tv_usec);
}

// The fields of /proc/PID/stat that chat-bench reads (clock ticks).
struct Stat {
    pid_t ppid = 0;
    std::uint64_t utime = 0, stime = 0, cutime = 0, cstime = 0;
};

std::optional<Stat> read_stat(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!in || !std::getline(in, line)) return std::nullopt;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    const auto close = line.rfind(')');
    if (close == std::string::npos || close + 2 > line.size()) return std::nullopt;
    std::istringstream fields(line.substr(close + 2));
    std::string field;
    Stat stat;
    // After ')' come field 3 (state) onwards: ppid is 4, utime 14, stime 15, cutime 16, cstime 17.
    int index = 3;
    for (; index <= 17 && fields >> field; ++index) {
        try {
            if (index == 4) stat.ppid = static_cast<pid_t>(std::stol(field));
            if (index == 14) stat.utime = std::stoull(field);
            if (index == 15) stat.stime = std::stoull(field);
            if (index == 16) stat.cutime = std::stoull(field);
            if (index == 17) stat.cstime = std::stoull(field);
        } catch (const std::exception&) {
            return std::nullopt;
        }
    }
    if (index <= 17) return std::nullopt;
    return stat;
}

std::uint64_t ticks_micros(std::uint64_t ticks) {
    static const long per_second = sysconf(_SC_CLK_TCK);
    return ticks * 1'000'000u / static_cast<std::uint64_t>(per_second);
}

}  // namespace

std::optional<std::uint64_t> process_cpu_micros(pid_t pid) {
    const auto stat = read_stat(pid);
    if (!stat) return std::nullopt;
    return ticks_micros(stat->utime + stat->stime);
}

std::vector<pid_t> process_tree(pid_t root) {
    if (!read_stat(root)) return {};
    // Every process's parent, then the descendants breadth first (bounded by the table).
    std::multimap<pid_t, pid_t> children;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename().string();
        pid_t pid = 0;
        auto [end, parse_ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
        if (parse_ec != std::errc() || end != name.data() + name.size()) continue;
        if (const auto stat = read_stat(pid)) children.emplace(stat->ppid, pid);
    }
    std::vector<pid_t> tree = {root};
    for (std::size_t i = 0; i < tree.size() && tree.size() <= children.size() + 1; ++i) {
        auto [first, last] = children.equal_range(tree[i]);
        for (auto it = first; it != last; ++it) tree.push_back(it->second);
    }
    return tree;
}

std::optional<std::uint64_t> process_tree_cpu_micros(pid_t root) {
    const auto tree = process_tree(root);
    if (tree.empty()) return std::nullopt;
    std::uint64_t ticks = 0;
    for (pid_t pid : tree) {
        // A process that ended since the listing was reaped into its parent's cutime/cstime.
        if (const auto stat = read_stat(pid)) {
            ticks += stat->utime + stat->stime + stat->cutime + stat->cstime;
        }
    }
    return ticks_micros(ticks);
}

std::uint64_t self_cpu_micros() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return timeval_micros(usage.ru_utime) + timeval_micros(usage.ru_stime);
}

std::optional<std::uint64_t> process_rss_bytes(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    if (!in) return std::nullopt;
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) {
            std::istringstream fields(line.substr(6));
            std::uint64_t kib = 0;
            fields >> kib;
            return kib * 1024u;
        }
    }
    return std::nullopt;
}

std::vector<int> parse_cpu_list(const std::string& text) {
    std::vector<int> cpus;
    std::istringstream in(text);
    std::string part;
    while (std::getline(in, part, ',')) {
        const auto dash = part.find('-');
        int first = 0;
        int last = 0;
        auto parse = [](std::string_view s, int& out) {
            auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
            return ec == std::errc() && end == s.data() + s.size() && out >= 0 && out < CPU_SETSIZE;
        };
        const std::string_view view(part);
        if (dash == std::string::npos) {
            if (!parse(view, first)) return {};
            last = first;
        } else if (!parse(view.substr(0, dash), first) || !parse(view.substr(dash + 1), last) ||
                   last < first) {
            return {};
        }
        for (int cpu = first; cpu <= last; ++cpu) cpus.push_back(cpu);
    }
    return cpus;
}

bool pin_process(pid_t pid, const std::vector<int>& cpus, std::string& error) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int cpu : cpus) CPU_SET(cpu, &set);
    const std::string tasks =
        "/proc/" + (pid == 0 ? std::string("self") : std::to_string(pid)) + "/task";
    std::error_code ec;
    bool any = false;
    for (const auto& entry : std::filesystem::directory_iterator(tasks, ec)) {
        const pid_t tid = static_cast<pid_t>(std::stol(entry.path().filename().string()));
        if (sched_setaffinity(tid, sizeof(set), &set) != 0) {
            if (errno == ESRCH) continue;  // the thread ended meanwhile
            error = "sched_setaffinity(" + std::to_string(tid) + "): " + std::strerror(errno);
            return false;
        }
        any = true;
    }
    if (ec || !any) {
        error = "cannot list " + tasks;
        return false;
    }
    return true;
}

}  // namespace chat::bench
