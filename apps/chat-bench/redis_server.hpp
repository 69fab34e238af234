// RedisServer: the reference server of the `redis` cells, started by chat-bench itself: Debian's
// redis-server on an ephemeral loopback port, in memory only (no RDB snapshots, no AOF), one
// I/O thread, subscribers' output buffers unbounded (as chatd keeps every message), stopped
// with SIGTERM. Its log goes to a temporary file, shown when it does not start.
// Thread use: one controlling thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "resp.hpp"

namespace chat::bench {

class RedisServer final {
   public:
    // Starts `binary` (a path, or a name looked up in PATH) pinned to `cpus` from its first
    // instruction (empty: not pinned), and waits until it answers PING. Throws
    // std::runtime_error with its log when it cannot.
    RedisServer(const std::string& binary, const std::vector<int>& cpus);
    ~RedisServer();  // stop()
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    pid_t pid() const noexcept { return pid_; }
    std::uint16_t port() const noexcept { return port_; }
    // SIGTERM, then waits (SIGKILL after a grace period); returns the exit status. Idempotent.
    int stop();

   private:
    bool start_once(const std::string& binary, const std::vector<int>& cpus, std::string& why);

    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
    int exit_status_ = -1;
    std::string log_path_;
};

// On a blocking socket: writes the RESP `command` and reads one reply into `value` (viewing into
// `buffer`). Throws std::runtime_error when the connection fails or the reply is not RESP.
void redis_request(int fd, const std::string& command, std::string& buffer, resp::Value& value);

// Spawns argv[0] (a path, or looked up in PATH) with `argv`, stdin from /dev/null and stdout and
// stderr to `log_fd`, its CPU affinity `cpus` from the start (empty: inherited). Returns the
// pid; throws std::runtime_error when it cannot. (The calling thread's affinity is changed for
// the moment of the spawn and restored.)
pid_t spawn_pinned(const std::vector<std::string>& argv, char* const* envp, int log_fd,
                   const std::vector<int>& cpus);

}  // namespace chat::bench
