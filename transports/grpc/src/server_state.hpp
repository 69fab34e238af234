// ServerState: what the gRPC server's handlers and stream reactors share — admission (connection
// limit, rate limits), bearer-token authentication, the registry of open Subscribe streams — and
// the few helpers every handler uses to end a failed call (log line, error trailer, status).
// Thread use: safe from any number of gRPC threads; owned by GrpcServer and outlives every call.
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "chat/chat_service.hpp"
#include "chat/error.hpp"
#include "chat/outbound_budget.hpp"
#include "chat/types.hpp"
#include "connection_limit.hpp"
#include "peer_rate.hpp"
#include "push_stream.hpp"
#include "token_table.hpp"
#include "worker_thread.hpp"

namespace chat::grpc_transport {

inline constexpr std::string_view kComponent = "grpc";
// Fetch calls of one session whose replies are not yet written: a reply waits in server memory
// until the client reads it, so a client that does not read could otherwise pile them up.
inline constexpr std::size_t kMaxFetchesInFlight = 4;
// Open Subscribe streams of one session.
inline constexpr std::size_t kMaxStreamsPerSession = 8;

// The address part of a gRPC peer string ("ipv4:127.0.0.1:5000", "ipv6:[::1]:5000").
std::string peer_address(std::string_view peer);

// Where a call comes from, for the core's throttles and fair shares: its connection (the peer
// string is unique among open connections) and the peer's address.
Origin origin_of(const grpc::CallbackServerContext& ctx);

// Logs a failed call (load refusals at most once per interval and code).
void log_failure(std::string_view rpc, const Error& error, const grpc::CallbackServerContext& ctx);

// The status that ends a call with `error`, after adding the chat-error-code trailer to `ctx`
// (docs/protocol.md: the stable code travels in the trailer, the status follows our table).
grpc::Status error_status(grpc::CallbackServerContext& ctx, const Error& error);

// Finishes a unary call with `error`: logged, trailer, status. Must be the last thing a
// completion does (stop() may tear the server down once every call finished).
void fail(grpc::CallbackServerContext* ctx, grpc::ServerUnaryReactor* reactor, std::string_view rpc,
          const Error& error);

// A unary call refused before its handler did anything: finishes the call's default reactor
// with `error` and returns it, for the handler to return.
grpc::ServerUnaryReactor* refused(grpc::CallbackServerContext* ctx, std::string_view rpc,
                                  const Error& error);

class SubscribeReactor;

struct ServerState {
    // `session_idle`: how long a token may go unused without a stream (TokenTable expiry).
    ServerState(ChatService& service, std::shared_ptr<OutboundBudget> budget,
                std::chrono::milliseconds session_idle);

    ChatService& service;
    const std::chrono::milliseconds session_idle;
    // Every push queued on every stream counts here (shared with the other transports).
    std::shared_ptr<OutboundBudget> outbound;
    TokenTable tokens;
    PeerRate anonymous;  // calls without a valid token, per peer address
    ConnectionLimit connections;
    std::shared_ptr<WorkerThread> pusher;

    struct Auth {
        SessionId session = 0;
        std::string token;
    };

    // server_busy when the call's connection is over Limits::max_connections or
    // Limits::max_connections_per_address.
    Result<void> admit(const grpc::CallbackServerContext& ctx);
    // A call without a valid token (Hello, CreateAccount, Login, or a token refused): admitted,
    // then counted against its peer address's rate bucket.
    Result<void> admit_anonymous(const grpc::CallbackServerContext& ctx);
    // The session named by the call's bearer token; also marks it used.
    Result<Auth> authenticate(const grpc::CallbackServerContext& ctx);

    // Open Subscribe streams, so Logout and stop() can end them. add_stream is refused (false)
    // once stop() has begun.
    bool add_stream(const std::shared_ptr<SubscribeReactor>& stream, SessionId session);
    void remove_stream(const SubscribeReactor* stream);
    // Ends every open stream of `session` (or every stream at all when nullopt).
    void end_streams(std::optional<SessionId> session, PushStream::End why, bool drain);

   private:
    Result<void> limit_anonymous(const grpc::CallbackServerContext& ctx);
    // `error` for a call whose token is not valid, unless its address is over its rate.
    Error refuse_anonymous(const grpc::CallbackServerContext& ctx, Error error);

    std::mutex streams_mu_;
    bool stopping_ = false;
    std::unordered_map<const SubscribeReactor*,
                       std::pair<SessionId, std::weak_ptr<SubscribeReactor>>>
        streams_;
};

}  // namespace chat::grpc_transport
