// The pieces of a cluster test: chatd nodes on one PostgreSQL database (real chatd binaries,
// ChatdProcess), HAProxy in front of them (the real haproxy, with a config written per test),
// and Peer, a chat::Client with what it received and the reconnects it reported, for the test
// thread to wait on.
// Thread use: Node, Haproxy and TempDir belong to the test thread. A Peer's request methods may
// be called from any thread; its records are filled on the client's callback thread and read
// under its mutex.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "chat/transport.hpp"
#include "chatd_process.hpp"

namespace chat::cluster {

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

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released). Another
// process may take it before it is used; a bind that fails then says so.
std::uint16_t pick_free_port();

// One chatd on the shared database, serving JSON Lines and gRPC on ephemeral ports (learned from
// its log). The per-address limits are off: behind HAProxy every client has its address.
class Node final {
   public:
    // Throws std::runtime_error with the log when the node does not come up.
    Node(std::string name, const std::string& pg_url, std::vector<std::string> extra = {});
    ~Node() = default;  // the process is killed if still running

    // SIGKILL, as a crash; returns once the process is gone.
    void kill9();
    // SIGTERM and the exit code (0 for a clean shutdown).
    int stop();

    const std::string& name() const noexcept { return name_; }
    std::uint16_t json_port() const noexcept { return json_port_; }
    std::uint16_t grpc_port() const noexcept { return grpc_port_; }
    std::uint16_t port(std::string_view transport) const noexcept {
        return transport == "grpc" ? grpc_port_ : json_port_;
    }
    std::string log() const { return process_.log(); }
    bool running() const { return process_.running(); }

   private:
    std::string name_;
    e2e::ChatdProcess process_;
    std::uint16_t json_port_ = 0;
    std::uint16_t grpc_port_ = 0;
};

// HAProxy in TCP mode with one front port per transport, balancing over the given nodes with
// connect health checks (the same settings scripts/cluster writes, see docs/operations.md).
class Haproxy final {
   public:
    struct Backend {
        std::string name;
        std::uint16_t json_port = 0;
        std::uint16_t grpc_port = 0;
    };
    // Writes the config into `dir`, starts haproxy and returns once both front ports accept
    // connections. Throws std::runtime_error with its log otherwise.
    Haproxy(const std::filesystem::path& dir, const std::vector<Backend>& backends);
    ~Haproxy();  // SIGTERM, then SIGKILL if it lingers
    Haproxy(const Haproxy&) = delete;
    Haproxy& operator=(const Haproxy&) = delete;

    std::uint16_t port(std::string_view transport) const noexcept {
        return transport == "grpc" ? grpc_port_ : json_port_;
    }
    std::string log() const;  // its output: startup messages, servers going down and up

   private:
    bool exited();
    std::filesystem::path log_path_;
    pid_t pid_ = -1;
    std::uint16_t json_port_ = 0;
    std::uint16_t grpc_port_ = 0;
};

// The path of the haproxy program (set by CMake).
const char* haproxy_path();

// A client and what it saw: pushes (and messages a reconnecting client fetched after coming
// back) in arrival order, reconnect events, a server-side logout.
class Peer final {
   public:
    struct Options {
        std::string transport = "json";
        std::uint16_t port = 0;
        bool reconnect = false;
        std::chrono::milliseconds timeout{5000};  // per request
    };
    // What the callbacks recorded.
    struct State {
        std::vector<Message> received;  // in arrival order, duplicates included
        // For each of `received`: how many `lost` came before it (0: the first connection).
        std::vector<int> epoch;
        int lost = 0;
        int restored = 0;
        int gave_up = 0;
        bool up = true;  // no `lost` waiting for its `restored`
        std::optional<LogoutReason> logged_out;
        std::optional<Error> disconnected;  // a client that does not reconnect lost its link
    };

    // Connects; throws std::runtime_error when it cannot.
    explicit Peer(const Options& options);
    ~Peer();  // closes the client
    Peer(const Peer&) = delete;
    Peer& operator=(const Peer&) = delete;

    Client& client() { return *client_; }

    // Waits until `ready(state)` holds (checked after every event); false on timeout.
    bool wait_until(const std::function<bool(const State&)>& ready,
                    std::chrono::milliseconds timeout);
    // Waits until the client is connected again; false on timeout or once it gave up.
    bool wait_up(std::chrono::milliseconds timeout);
    // Waits until `id` arrived; false on timeout.
    bool wait_message(MessageId id, std::chrono::milliseconds timeout);

    State state() const;  // a copy

   private:
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    State state_;
    std::unique_ptr<Client> client_;
};

// Creates `name` with `password` through a short-lived JSON client at `port`; throws on failure.
void create_account(std::uint16_t port, const std::string& name, const std::string& password);

}  // namespace chat::cluster
