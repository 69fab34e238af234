// ServerProcess: a chatd that chat-bench starts itself (--spawn), one per node. It runs the real
// binary on ephemeral loopback ports with the rate limit off, learns each transport's port from
// the `listening transport=NAME ... port=N` lines of its log, keeps draining the log (a full
// pipe would stall the server) and stops it with SIGTERM.
// Thread use: one controlling thread; an internal thread drains the log.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace chat::bench {

struct SpawnOptions {
    std::string chatd_path;
    std::vector<std::string> transports;  // served together, e.g. {"json", "grpc"}
    std::string store = "memory";         // memory | sqlite | postgres
    std::string db_path;                  // sqlite only; removed with its -wal/-shm on stop
    std::string pg_url;                   // postgres only; handed over as CHATD_PG_URL
    std::string node_name;                // chatd --node-name (empty: its default)
    unsigned io_threads = 0;              // chatd --threads (0: its default)
    std::size_t max_connections = 10000;
    std::vector<int> cpus;  // its CPU affinity from the start (empty: inherited), so that its
                            // default thread counts follow them as they do for an operator
};

class ServerProcess final {
   public:
    // Starts chatd and waits until every transport listens. Throws std::runtime_error (with the
    // tail of the log) when it cannot.
    explicit ServerProcess(SpawnOptions options);
    ~ServerProcess();  // stop()
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    pid_t pid() const noexcept { return pid_; }
    // The port `transport` listens on; nullopt if it is not served.
    std::optional<std::uint16_t> port(const std::string& transport) const;
    // SIGTERM, then waits (SIGKILL after a grace period). Returns the exit status; idempotent.
    int stop();
    // The last part of the log (for error messages).
    std::string log_tail() const;
    // The fields of chatd's `threads` line (the thread counts it chose, and why), e.g.
    // "cpus=1 affinity=1 quota=none io_per_transport=1 hash=1"; empty until it is logged.
    std::string threads() const;

   private:
    void drain();
    bool wait_ports(std::chrono::milliseconds timeout);

    SpawnOptions options_;
    pid_t pid_ = -1;
    int log_fd_ = -1;
    int exit_status_ = -1;
    std::thread drainer_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::string tail_;     // bounded
    std::string partial_;  // an unfinished log line
    std::map<std::string, std::uint16_t> ports_;
    std::string threads_;
    bool eof_ = false;
};

// The chatd next to `self_path` in the build tree (../chatd/chatd) or in the same directory;
// empty when neither exists.
std::string find_chatd(const std::string& self_path);

}  // namespace chat::bench
