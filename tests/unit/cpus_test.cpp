// usable_cpus(): the affinity mask and the cgroup v2 quota, and the parsers behind it.
#include "chat/cpus.hpp"

#include <sched.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <thread>

#include "one_cpu.hpp"

namespace {

TEST_CASE("cpu.max gives the CPUs its quota allows, rounded up, or none") {
    CHECK(chat::cpus_from_cpu_max("max 100000\n") == std::nullopt);
    CHECK(chat::cpus_from_cpu_max("100000 100000\n") == 1u);
    CHECK(chat::cpus_from_cpu_max("150000 100000") == 2u);
    CHECK(chat::cpus_from_cpu_max("50000 100000") == 1u);
    CHECK(chat::cpus_from_cpu_max("400000 100000\n") == 4u);
    CHECK(chat::cpus_from_cpu_max("") == std::nullopt);
    CHECK(chat::cpus_from_cpu_max("100000") == std::nullopt);
    CHECK(chat::cpus_from_cpu_max("-1 100000") == std::nullopt);
    CHECK(chat::cpus_from_cpu_max("100000 0") == std::nullopt);
    CHECK(chat::cpus_from_cpu_max("0 100000") == std::nullopt);
    CHECK(chat::cpus_from_cpu_max("12x 100000") == std::nullopt);
}

TEST_CASE("The cgroup v2 path is the 0:: line of /proc/self/cgroup") {
    CHECK(chat::cgroup_v2_path("0::/system.slice/chatd.service\n") ==
          std::string("/system.slice/chatd.service"));
    CHECK(chat::cgroup_v2_path("12:cpu,cpuacct:/x\n0::/\n") == std::string("/"));
    CHECK(chat::cgroup_v2_path("12:cpu,cpuacct:/x\n4:memory:/y\n") == std::nullopt);
    CHECK(chat::cgroup_v2_path("") == std::nullopt);
}

TEST_CASE("usable_cpus follows the affinity mask of the calling thread") {
    cpu_set_t original;
    CPU_ZERO(&original);
    REQUIRE(sched_getaffinity(0, sizeof(original), &original) == 0);
    const int allowed = CPU_COUNT(&original);
    REQUIRE(allowed >= 1);

    const chat::CpuCount all = chat::usable_cpus();
    CHECK(all.affinity == static_cast<unsigned>(allowed));
    CHECK(all.usable >= 1u);
    CHECK(all.usable <= all.affinity);
    if (all.quota) CHECK(all.usable <= *all.quota);
    CHECK(all.usable <= std::max(std::thread::hardware_concurrency(), 1u));

    // Pinned to one CPU of those allowed, as taskset or CPUAffinity= would.
    chat::test::OneCpu one;
    const chat::CpuCount pinned = chat::usable_cpus();
    REQUIRE(one.restore());
    CHECK(pinned.affinity == 1u);
    CHECK(pinned.usable == 1u);
    CHECK(pinned.describe().rfind("1 (affinity 1, ", 0) == 0);
}

}  // namespace
