// ServerState: admission, authentication and the stream registry of the gRPC server, and the
// helpers that end a failed call.
#include "server_state.hpp"

#include <cstdint>
#include <vector>

#include "channelz_peers.hpp"
#include "chat/log.hpp"
#include "codec.hpp"
#include "log_throttle.hpp"
#include "subscribe_reactor.hpp"

namespace chat::grpc_transport {

namespace {

// Refusals for load (server_busy, rate_limited) come in floods: at most one line per interval
// and code, with the number left out.
constexpr std::chrono::seconds kRefusalLogInterval{10};

}  // namespace

std::string peer_address(std::string_view peer) {
    if (auto colon = peer.find(':'); colon != std::string_view::npos) {
        peer.remove_prefix(colon + 1);  // the scheme
    }
    if (!peer.empty() && peer.front() == '[') {
        auto end = peer.find(']');
        return std::string(peer.substr(1, end == std::string_view::npos ? end : end - 1));
    }
    if (auto colon = peer.rfind(':'); colon != std::string_view::npos) peer = peer.substr(0, colon);
    return std::string(peer);
}

Origin origin_of(const grpc::CallbackServerContext& ctx) {
    std::string peer = ctx.peer();
    std::string address = peer_address(peer);
    return Origin{"grpc#" + std::move(peer), std::move(address)};
}

void log_failure(std::string_view rpc, const Error& error, const grpc::CallbackServerContext& ctx) {
    const auto level = error.code == Errc::internal ? log::Level::error : log::Level::info;
    if (!log::enabled(level)) return;
    static LogThrottle busy(kRefusalLogInterval);
    static LogThrottle limited(kRefusalLogInterval);
    std::optional<std::uint64_t> left_out = 0;
    if (error.code == Errc::server_busy) left_out = busy.admit();
    if (error.code == Errc::rate_limited) left_out = limited.admit();
    if (!left_out) return;
    log::Fields fields;
    fields.add("rpc", rpc).add("code", to_string(error.code)).add("peer", ctx.peer());
    if (*left_out > 0) fields.add("suppressed", *left_out);
    log::write(level, kComponent, "request failed", fields.str());
}

grpc::Status error_status(grpc::CallbackServerContext& ctx, const Error& error) {
    ctx.AddTrailingMetadata(std::string(kErrorCodeKey), std::string(to_string(error.code)));
    return to_status(error);
}

void fail(grpc::CallbackServerContext* ctx, grpc::ServerUnaryReactor* reactor, std::string_view rpc,
          const Error& error) {
    log_failure(rpc, error, *ctx);
    reactor->Finish(error_status(*ctx, error));
}

grpc::ServerUnaryReactor* refused(grpc::CallbackServerContext* ctx, std::string_view rpc,
                                  const Error& error) {
    auto* reactor = ctx->DefaultReactor();
    fail(ctx, reactor, rpc, error);
    return reactor;
}

ServerState::ServerState(ChatService& s, std::shared_ptr<OutboundBudget> budget,
                         std::chrono::milliseconds idle)
    : service(s),
      session_idle(idle),
      outbound(budget ? std::move(budget)
                      : std::make_shared<OutboundBudget>(s.limits().max_outbound_memory)),
      tokens(s.limits().rate_limit, s.limits().rate_burst),
      anonymous(s.limits().rate_limit, s.limits().rate_burst),
      connections(
          ConnectionLimit::Options{
              .max = s.limits().max_connections,
              .per_address = s.limits().max_connections_per_address,
              .refresh_interval = std::chrono::milliseconds(50),
              .silent_fallback = s.limits().login_timeout,
          },
          [peers = std::make_shared<ChannelzPeers>()](std::string_view caller) {
              return (*peers)(caller);
          }),
      pusher(std::make_shared<WorkerThread>("grpc-pusher")) {}

Result<void> ServerState::admit(const grpc::CallbackServerContext& ctx) {
    const std::string peer = ctx.peer();
    if (connections.admit(peer, peer_address(peer))) return {};
    return make_error(Errc::server_busy, "too many connections; try again later");
}

Result<void> ServerState::admit_anonymous(const grpc::CallbackServerContext& ctx) {
    if (auto admitted = admit(ctx); !admitted) return admitted.error();
    return limit_anonymous(ctx);
}

Result<void> ServerState::limit_anonymous(const grpc::CallbackServerContext& ctx) {
    if (anonymous.take(peer_address(ctx.peer()))) return {};
    return make_error(Errc::rate_limited,
                      "too many calls without a session from this address; slow down");
}

Error ServerState::refuse_anonymous(const grpc::CallbackServerContext& ctx, Error error) {
    if (auto limited = limit_anonymous(ctx); !limited) return limited.error();
    return error;
}

Result<ServerState::Auth> ServerState::authenticate(const grpc::CallbackServerContext& ctx) {
    if (auto admitted = admit(ctx); !admitted) return admitted.error();
    const auto& md = ctx.client_metadata();
    auto it = md.find(grpc::string_ref(kAuthorizationKey.data(), kAuthorizationKey.size()));
    if (it == md.end()) {
        return refuse_anonymous(
            ctx, make_error(Errc::not_logged_in,
                            "no session: send metadata 'authorization: Bearer <token>' from "
                            "Login"));
    }
    auto token = bearer_token(std::string_view(it->second.data(), it->second.size()));
    if (!token) {
        return refuse_anonymous(ctx, make_error(Errc::not_logged_in,
                                                "authorization metadata must be 'Bearer <token>'"));
    }
    auto found = tokens.use(*token);
    switch (found.use) {
        case TokenTable::Use::unknown:
            return refuse_anonymous(
                ctx, make_error(Errc::not_logged_in, "unknown or expired session token"));
        case TokenTable::Use::rate_limited:
            return make_error(Errc::rate_limited, "too many requests; slow down");
        case TokenTable::Use::ok:
            break;
    }
    if (!service.session_user(found.session)) {
        tokens.revoke(*token);
        return make_error(Errc::not_logged_in, "the session has ended");
    }
    return Auth{found.session, std::string(*token)};
}

bool ServerState::add_stream(const std::shared_ptr<SubscribeReactor>& stream, SessionId session) {
    std::lock_guard lock(streams_mu_);
    if (stopping_) return false;
    streams_.emplace(stream.get(), std::pair{session, std::weak_ptr<SubscribeReactor>(stream)});
    return true;
}

void ServerState::remove_stream(const SubscribeReactor* stream) {
    std::lock_guard lock(streams_mu_);
    streams_.erase(stream);
}

void ServerState::end_streams(std::optional<SessionId> session, PushStream::End why, bool drain) {
    std::vector<std::shared_ptr<SubscribeReactor>> targets;
    {
        std::lock_guard lock(streams_mu_);
        if (why == PushStream::End::shutdown) stopping_ = true;
        for (const auto& [ptr, entry] : streams_) {
            if (session && entry.first != *session) continue;
            if (auto s = entry.second.lock()) targets.push_back(std::move(s));
        }
    }
    for (const auto& s : targets) s->end(why, drain);
}

}  // namespace chat::grpc_transport
