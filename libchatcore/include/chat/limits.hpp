// Every limit of the contract in one place; read by the core and by every transport. Settings
// that only one wire has are that transport's own (ServerConfig::settings, chat/transport.hpp).
// Thread use: a plain value; copy it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace chat {

struct Limits {
    // Domain rules (docs/protocol.md); fixed by the contract, not meant to be tuned.
    static constexpr std::size_t kMaxUsername = 32;
    static constexpr std::size_t kMaxPassword = 256;
    static constexpr std::size_t kMaxBody = 16384;
    static constexpr std::size_t kDefaultFetch = 100;
    static constexpr std::size_t kMaxFetch = 1000;
    static constexpr std::size_t kDefaultList = 100;
    static constexpr std::size_t kMaxList = 1000;
    static constexpr int kProtocolVersion = 1;

    // Operator-tunable protection (chatd flags).
    std::size_t max_frame = 64 * 1024;    // bytes per JSON frame / gRPC message
    std::size_t max_connections = 10000;  // then `server_busy`
    // Connections at once from one peer address (per transport); 0 = no limit.
    std::size_t max_connections_per_address = 256;
    double rate_limit = 200;                           // requests/s per connection; 0 = off
    double rate_burst = 400;                           // bucket size
    std::chrono::milliseconds login_timeout{30000};    // close connections that never log in
    std::size_t max_outbound_bytes = 4 * 1024 * 1024;  // per connection; a slower reader is dropped
    // Every byte waiting to go out on all connections of a transport; beyond it, the connection
    // adding to the pile while holding more than max_outbound_floor is dropped. 0 = no budget.
    std::size_t max_outbound_memory = 256 * 1024 * 1024;
    std::size_t max_outbound_floor = 64 * 1024;
    // A logged-in connection whose outbound bytes have not moved for this long is closed (its
    // unacknowledged messages stay queued). 0 = never.
    std::chrono::milliseconds write_stall_timeout{30000};
    // A fetch page holds at most this many bytes of message text (bodies and names; at least one
    // message); `remaining` counts the rest.
    std::size_t max_fetch_bytes = 512 * 1024;
};

// Clamp a requested page size: 0 means the default, above the maximum is clamped.
constexpr std::size_t clamp_page(std::uint64_t requested, std::size_t def, std::size_t max) {
    if (requested == 0) return def;
    return requested > max ? max : static_cast<std::size_t>(requested);
}

}  // namespace chat
