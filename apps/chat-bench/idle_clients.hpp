// IdleClients: N logged-in clients that hold their push stream and do nothing else, so the
// server's memory per idle client can be read and a load can run beside them (--idle N).
// They are lean on purpose (no threads per client): for JSON a raw socket that logged in; for
// gRPC a channel with an open Subscribe stream driven by gRPC's callback API. What the server
// holds per client is the same as for a chat::Client that sits idle.
// Thread use: one controlling thread.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "bench_options.hpp"

namespace chat::bench {

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

}  // namespace chat::bench
