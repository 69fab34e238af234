// See chat/cpus.hpp.
#include "chat/cpus.hpp"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace chat {

namespace {

constexpr std::string_view kCgroupRoot = "/sys/fs/cgroup";

std::optional<std::uint64_t> parse_number(std::string_view text) {
    std::uint64_t value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc() || ptr != end) return std::nullopt;
    return value;
}

std::optional<std::string> read_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

unsigned affinity_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        const int count = CPU_COUNT(&set);
        if (count > 0) return static_cast<unsigned>(count);
    }
    return std::max(std::thread::hardware_concurrency(), 1u);
}

// The smallest quota on the way from this process's cgroup up to the root: a parent's limit
// binds its children too.
std::optional<unsigned> quota_cpus() {
    const auto self = read_file("/proc/self/cgroup");
    if (!self) return std::nullopt;
    const auto path = cgroup_v2_path(*self);
    if (!path) return std::nullopt;
    std::optional<unsigned> smallest;
    std::string relative = path->substr(1);  // "a/b/c", or "" for the root
    while (true) {
        const auto line = read_file(std::filesystem::path(kCgroupRoot) / relative / "cpu.max");
        if (line) {
            if (const auto cpus = cpus_from_cpu_max(*line)) {
                smallest = smallest ? std::min(*smallest, *cpus) : *cpus;
            }
        }
        if (relative.empty()) break;
        const auto slash = relative.rfind('/');
        relative = slash == std::string::npos ? std::string() : relative.substr(0, slash);
    }
    return smallest;
}

}  // namespace

std::optional<unsigned> cpus_from_cpu_max(std::string_view line) {
    while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.remove_suffix(1);
    const auto space = line.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    const std::string_view quota_text = line.substr(0, space);
    if (quota_text == "max") return std::nullopt;
    const auto quota = parse_number(quota_text);
    const auto period = parse_number(line.substr(space + 1));
    if (!quota || !period || *quota == 0 || *period == 0) return std::nullopt;
    const std::uint64_t cpus = (*quota + *period - 1) / *period;
    return static_cast<unsigned>(std::min<std::uint64_t>(cpus, 1u << 16));
}

std::optional<std::string> cgroup_v2_path(std::string_view text) {
    while (!text.empty()) {
        const auto newline = text.find('\n');
        const std::string_view line = text.substr(0, newline);
        text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
        if (line.substr(0, 3) == "0::" && line.size() > 3 && line[3] == '/') {
            return std::string(line.substr(3));
        }
    }
    return std::nullopt;
}

CpuCount usable_cpus() {
    CpuCount count;
    count.affinity = affinity_cpus();
    count.quota = quota_cpus();
    count.usable = count.quota ? std::min(count.affinity, *count.quota) : count.affinity;
    count.usable = std::max(count.usable, 1u);
    return count;
}

std::string CpuCount::describe() const {
    std::string text = std::to_string(usable) + " (affinity " + std::to_string(affinity);
    text += quota ? ", quota " + std::to_string(*quota) + ")" : ", no quota)";
    return text;
}

}  // namespace chat
