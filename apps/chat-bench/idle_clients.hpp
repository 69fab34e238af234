// IdleClients: N logged-in clients that hold their push stream and do nothing else, so the
// server's memory per idle client can be read and a load can run beside them (--idle N).
// They are lean on purpose (no threads per client): for JSON a raw socket that logged in; for
// WebSocket a raw Beast WebSocket on a blocking socket; for
// gRPC a channel with an open Subscribe stream driven by gRPC's asynchronous API on a completion
// queue of their own. What the server
// holds per client is the same as for a chat::Client that sits idle.
// Thread use: one controlling thread.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "bench_options.hpp"

namespace chat::bench {

// Idle clients share accounts, this many sessions per account.
inline constexpr std::size_t kIdleClientsPerAccount = 1000;
// Logins in flight while opening them; the server's hashing queue refuses beyond its bound.
inline constexpr unsigned kIdleLoginConcurrency = 16;

class IdleClients {
   public:
    virtual ~IdleClients() = default;
    // Creates the idle accounts (one per 1000 clients; several sessions share an account) and
    // opens `count` logged-in clients. Throws std::runtime_error on failure.
    virtual void open(std::size_t count) = 0;
    // Disconnects them all. Idempotent.
    virtual void close() = 0;
};

// nullptr when `transport` has no idle client here.
std::unique_ptr<IdleClients> make_idle_clients(const std::string& transport,
                                               const Endpoint& endpoint,
                                               const std::string& name_prefix);
// The WebSocket ones (idle_ws.cpp, built with the WebSocket transport only).
std::unique_ptr<IdleClients> make_idle_ws_clients(const Endpoint& endpoint,
                                                  const std::string& name_prefix);
// The gRPC ones (idle_grpc.cpp, built with gRPC only).
std::unique_ptr<IdleClients> make_idle_grpc_clients(const Endpoint& endpoint,
                                                    const std::string& name_prefix);

}  // namespace chat::bench
