// Small tools of the hardening tests: a temporary directory, the pid and resident memory of the
// chatd child process, the process's descriptor limit, and RawSocket, a TCP client that can do
// what a hostile or broken peer does (tiny receive buffer, reset instead of close, half-close).
// Thread use: TempDir and RawSocket belong to one thread; the free functions are thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace chat::hardening {

// A fresh directory under the system's temporary directory, removed with its contents at the end.
class TempDir final {
   public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const noexcept { return path_; }

   private:
    std::filesystem::path path_;
};

// The pid of this process's child running `executable` (compared by resolved path); nullopt when
// there is none or more than one.
std::optional<pid_t> find_child_process(const std::string& executable);

// VmRSS of `pid` in KiB, from /proc/<pid>/status; nullopt when it cannot be read.
std::optional<std::size_t> resident_kib(pid_t pid);

// Raises the soft limit of open descriptors to at least `wanted` (up to the hard limit). Returns
// the soft limit in force afterwards.
std::size_t raise_descriptor_limit(std::size_t wanted);

// A plain blocking POSIX TCP client to 127.0.0.1 with the knobs a misbehaving peer turns.
class RawSocket final {
   public:
    // `receive_buffer` > 0 sets SO_RCVBUF before connecting (a peer that reads slowly).
    explicit RawSocket(std::uint16_t port, int receive_buffer = 0);
    ~RawSocket();
    RawSocket(const RawSocket&) = delete;
    RawSocket& operator=(const RawSocket&) = delete;

    // Writes every byte; false when the peer is gone.
    bool send_all(std::string_view bytes);
    // Up to `max` bytes that arrive within `timeout`; "" on timeout; nullopt once the peer closed
    // or reset the connection.
    std::optional<std::string> receive(std::chrono::milliseconds timeout, std::size_t max = 65536);
    // The next '\n'-terminated line (without it) within `timeout`; nullopt on timeout or close.
    std::optional<std::string> read_line(std::chrono::milliseconds timeout);
    // True when the peer closes within `timeout` (data before that is discarded).
    bool wait_closed(std::chrono::milliseconds timeout);

    void shutdown_send();
    // Closes with SO_LINGER 0: the peer sees a reset, not an orderly end.
    void reset();
    void close();
    int fd() const noexcept { return fd_; }

   private:
    int fd_ = -1;
    std::string buffer_;
    bool closed_by_peer_ = false;
};

}  // namespace chat::hardening
