// ServerCore: what the JSON server and its connections share (the service, the limits, the
// io_context, TLS, and the registry of open connections that stop() waits on).
//
// Owned by the server; outlives every connection callback because the server's stop() waits for
// in-flight core calls and open connections.
// Thread use: the mutex guards `connections`, `stopping`, `inflight`, `live`, `per_address` and
// `next_connection_id`; the rest is immutable after construction (TLS: before the first accept)
// or thread-safe itself.
#pragma once

#include <boost/asio.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "chat/chat_service.hpp"
#include "chat/limits.hpp"
#include "chat/outbound_budget.hpp"
#include "tls_context.hpp"

namespace chat::json_transport {

class FrameConnection;

struct ServerCore : std::enable_shared_from_this<ServerCore> {
    ServerCore(ChatService& svc, Limits lim, std::shared_ptr<OutboundBudget> budget = nullptr)
        : service(svc), limits(lim), outbound_budget(std::move(budget)) {}

    ChatService& service;
    const Limits limits;
    const std::shared_ptr<OutboundBudget> outbound_budget;  // every connection's bytes to send
    boost::asio::io_context ioc;
    // TLS: set by the server before it accepts anything, then read-only. Null: plain TCP.
    std::unique_ptr<ssl::context> tls;
    std::chrono::milliseconds tls_handshake_timeout{0};  // 0: no limit

    std::mutex mutex;
    std::condition_variable changed;  // a connection closed or an in-flight call completed
    std::unordered_map<std::uint64_t, std::weak_ptr<FrameConnection>> connections;
    std::size_t inflight = 0;  // core calls whose completion has not yet been posted
    std::size_t live = 0;      // connections counted against Limits::max_connections
    std::unordered_map<std::string, std::size_t> per_address;  // counted connections by address
    bool stopping = false;
    std::uint64_t next_connection_id = 1;

    void begin_inflight();
    void end_inflight();
    void unregister(std::uint64_t id, bool counted, const std::string& address);
};

}  // namespace chat::json_transport
