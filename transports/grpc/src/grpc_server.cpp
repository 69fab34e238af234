// The server half of the gRPC transport: chat.v1.Chat over the callback API. Unary RPCs map 1:1
// onto ChatService; Subscribe is a server-streaming reactor that is the session's Sink.
//
// Threads: RPC handlers and reactions run on gRPC's threads and never block (hashing and durable
// sends finish their reactor from the core's callback). Pushes reach a stream through
// PushStream; the Sink calls made by the core (possibly under its locks) only enqueue, and the
// stream's next write is started once those locks are released: by the gRPC thread that ran the
// Send (PumpScope) or else by the "pusher" WorkerThread. A small expiry thread ends idle sessions.
#include <grpc/grpc.h>
#include <grpc/support/alloc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "chat/grpc/grpc_transport.hpp"
#include "chat/log.hpp"
#include "chat/v1/chat.grpc.pb.h"
#include "codec.hpp"
#include "connection_limit.hpp"
#include "grpc_runtime.hpp"
#include "log_throttle.hpp"
#include "peer_rate.hpp"
#include "push_stream.hpp"
#include "tls_files.hpp"
#include "token_table.hpp"
#include "worker_thread.hpp"

namespace chat::grpc_transport {

namespace {

constexpr std::string_view kComponent = "grpc";
// How long stop() lets calls in progress finish before gRPC cancels them.
constexpr std::chrono::seconds kShutdownGrace{5};
// Concurrent calls (HTTP/2 streams) one connection may have open.
constexpr int kMaxConcurrentStreams = 100;
// Fetch calls of one session whose replies are not yet written: a reply waits in server memory
// until the client reads it, so a client that does not read could otherwise pile them up.
constexpr std::size_t kMaxFetchesInFlight = 4;
// A connection with no call in flight and no stream open for this long is closed (GOAWAY), so
// it gives its ConnectionLimit slot up.
constexpr int kMaxConnectionIdleMs = 5 * 60 * 1000;
// The server pings a connection after this long without traffic and closes it when no answer
// comes within the timeout: dead peers do not hold slots.
constexpr int kKeepaliveTimeMs = 2 * 60 * 1000;
constexpr int kKeepaliveTimeoutMs = 20 * 1000;
// Open Subscribe streams of one session.
constexpr std::size_t kMaxStreamsPerSession = 8;

// Refusals for load (server_busy, rate_limited) come in floods: at most one line per interval
// and code, with the number left out.
constexpr std::chrono::seconds kRefusalLogInterval{10};

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

// The address part of a gRPC peer string ("ipv4:127.0.0.1:5000", "ipv6:[::1]:5000").
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

// Where a call comes from, for the core's throttles and fair shares: its connection (the peer
// string is unique among open connections) and the peer's address.
Origin origin_of(const grpc::CallbackServerContext& ctx) {
    std::string peer = ctx.peer();
    std::string address = peer_address(peer);
    return Origin{"grpc#" + std::move(peer), std::move(address)};
}

// Finishes a unary call with `error`: status per our table, chat-error-code trailer. Must be the
// last thing a completion does (stop() may tear the server down once every call finished).
void fail(grpc::CallbackServerContext* ctx, grpc::ServerUnaryReactor* reactor, std::string_view rpc,
          const Error& error) {
    log_failure(rpc, error, *ctx);
    ctx->AddTrailingMetadata(std::string(kErrorCodeKey), std::string(to_string(error.code)));
    reactor->Finish(to_status(error));
}

// The open connections of this server, from gRPC's channelz registry (the only place gRPC tells
// which connections exist). Channelz answers in JSON; the few string fields needed are read
// directly. Our server's channelz id is found once, as the server holding the caller's socket.
class ChannelzPeers final {
   public:
    std::optional<std::vector<std::string>> operator()(std::string_view caller) {
        if (const auto id = server_id_.load(); id != 0) {
            if (auto peers = server_peers(id); peers && contains(*peers, caller)) return peers;
        }
        std::intptr_t start = 0;
        for (int page = 0; page < kMaxPages; ++page) {
            const Text servers(grpc_channelz_get_servers(start));
            if (servers.json().empty()) return std::nullopt;
            std::intptr_t last = -1;
            for (auto id_text : string_values(servers.json(), "serverId")) {
                const std::intptr_t id = to_id(id_text);
                last = std::max(last, id);
                if (auto peers = server_peers(id); peers && contains(*peers, caller)) {
                    server_id_.store(id);
                    return peers;
                }
            }
            if (last < 0 || servers.json().find("\"end\":true") != std::string_view::npos) break;
            start = last + 1;
        }
        return std::nullopt;
    }

   private:
    static constexpr int kMaxPages = 1000;

    // A string returned by a channelz call, freed with gpr_free.
    class Text {
       public:
        explicit Text(char* text) : text_(text) {}
        ~Text() {
            if (text_ != nullptr) gpr_free(text_);
        }
        Text(const Text&) = delete;
        Text& operator=(const Text&) = delete;
        std::string_view json() const {
            return text_ == nullptr ? std::string_view() : std::string_view(text_);
        }

       private:
        char* text_;
    };

    // The values of every `"key":"value"` in `json` (values here never contain quotes).
    static std::vector<std::string_view> string_values(std::string_view json,
                                                       std::string_view key) {
        std::vector<std::string_view> out;
        const std::string pattern = "\"" + std::string(key) + "\":\"";
        for (auto pos = json.find(pattern); pos != std::string_view::npos;
             pos = json.find(pattern, pos)) {
            pos += pattern.size();
            const auto end = json.find('"', pos);
            if (end == std::string_view::npos) break;
            out.push_back(json.substr(pos, end - pos));
            pos = end;
        }
        return out;
    }

    static std::intptr_t to_id(std::string_view text) {
        std::intptr_t id = 0;
        for (char c : text) {
            if (c < '0' || c > '9') return -1;
            id = id * 10 + (c - '0');
        }
        return id;
    }

    static bool contains(const std::vector<std::string>& peers, std::string_view peer) {
        return std::find(peers.begin(), peers.end(), peer) != peers.end();
    }

    // Socket names read "chttp2 <peer>"; the peer is the part after the last space.
    static std::optional<std::vector<std::string>> server_peers(std::intptr_t id) {
        std::vector<std::string> peers;
        std::intptr_t start = 0;
        for (int page = 0; page < kMaxPages; ++page) {
            const Text sockets(grpc_channelz_get_server_sockets(id, start, 500));
            const auto json = sockets.json();
            if (json.empty() || json.find("\"error\"") != std::string_view::npos) {
                return std::nullopt;
            }
            for (auto name : string_values(json, "name")) {
                const auto space = name.rfind(' ');
                peers.emplace_back(space == std::string_view::npos ? name : name.substr(space + 1));
            }
            std::intptr_t last = -1;
            for (auto id_text : string_values(json, "socketId"))
                last = std::max(last, to_id(id_text));
            if (last < 0 || json.find("\"end\":true") != std::string_view::npos) break;
            start = last + 1;
        }
        return peers;
    }

    std::atomic<std::intptr_t> server_id_{0};
};

class SubscribeReactor;

// Defers the stream pumps that Sink calls ask for while a scope is open on this thread: they run
// when the outermost scope closes (by then the core's locks are released) on this same thread,
// instead of being handed to the pusher thread. The Send handler opens one around the core's
// send, so with a store that completes at once a push leaves without any thread hand-off.
// Thread use: one thread (thread_local); scopes nest.
class PumpScope final {
   public:
    PumpScope() {
        if (current_ == nullptr) current_ = this;
    }
    ~PumpScope();
    PumpScope(const PumpScope&) = delete;
    PumpScope& operator=(const PumpScope&) = delete;

    // Queues `stream` on this thread's open scope; false when none is open.
    static bool defer(std::shared_ptr<SubscribeReactor> stream) {
        if (current_ == nullptr) return false;
        current_->pending_.push_back(std::move(stream));
        return true;
    }

   private:
    static thread_local PumpScope* current_;
    std::vector<std::shared_ptr<SubscribeReactor>> pending_;
};

thread_local PumpScope* PumpScope::current_ = nullptr;

// What the RPC handlers and stream reactors share. Owned by GrpcServer; outlives every call.
struct ServerState {
    ServerState(ChatService& s, std::shared_ptr<OutboundBudget> budget)
        : service(s),
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

    ChatService& service;
    // Every push queued on every stream counts here (shared with the other transports).
    std::shared_ptr<OutboundBudget> outbound;
    TokenTable tokens;
    PeerRate anonymous;  // calls without a valid token, per peer address
    ConnectionLimit connections;
    std::shared_ptr<WorkerThread> pusher;

    // Open Subscribe streams, so Logout and stop() can end them.
    std::mutex streams_mu;
    bool stopping = false;
    std::unordered_map<const SubscribeReactor*,
                       std::pair<SessionId, std::weak_ptr<SubscribeReactor>>>
        streams;

    struct Auth {
        SessionId session = 0;
        std::string token;
    };

    // server_busy when the call's connection is over Limits::max_connections or
    // Limits::max_connections_per_address.
    Result<void> admit(const grpc::CallbackServerContext& ctx) {
        const std::string peer = ctx.peer();
        if (connections.admit(peer, peer_address(peer))) return {};
        return make_error(Errc::server_busy, "too many connections; try again later");
    }

    // A call without a valid token (Hello, CreateAccount, Login, or a token refused): admitted,
    // then counted against its peer address's rate bucket.
    Result<void> admit_anonymous(const grpc::CallbackServerContext& ctx) {
        if (auto admitted = admit(ctx); !admitted) return admitted.error();
        return limit_anonymous(ctx);
    }
    Result<void> limit_anonymous(const grpc::CallbackServerContext& ctx) {
        if (anonymous.take(peer_address(ctx.peer()))) return {};
        return make_error(Errc::rate_limited,
                          "too many calls without a session from this address; slow down");
    }
    // `error` for a call whose token is not valid, unless its address is over its rate.
    Error refuse_anonymous(const grpc::CallbackServerContext& ctx, Error error) {
        if (auto limited = limit_anonymous(ctx); !limited) return limited.error();
        return error;
    }

    // The session named by the call's bearer token; also marks it used.
    Result<Auth> authenticate(const grpc::CallbackServerContext& ctx) {
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
            return refuse_anonymous(
                ctx,
                make_error(Errc::not_logged_in, "authorization metadata must be 'Bearer <token>'"));
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

    bool add_stream(const std::shared_ptr<SubscribeReactor>& stream, SessionId session);
    void remove_stream(const SubscribeReactor* stream);
    // Ends every open stream of `session` (or every stream at all when nullopt).
    void end_streams(std::optional<SessionId> session, PushStream::End why, bool drain);
};

// Subscribe: a server-streaming reactor that is also the session's Sink. It owns itself through
// self_ from construction until OnDone ("self-deleting"); the core and the pusher may hold
// further references, so the object outlives OnDone until they let go, but after OnDone it never
// touches gRPC again (its PushStream is finished).
// Thread use: Sink calls from any thread (they only enqueue); pump() from the pusher or a
// gRPC reaction; PushStream serialises them.
class SubscribeReactor final : public grpc::ServerWriteReactor<v1::Event>,
                               public Sink,
                               public std::enable_shared_from_this<SubscribeReactor> {
   public:
    static grpc::ServerWriteReactor<v1::Event>* open(ServerState& state,
                                                     grpc::CallbackServerContext* ctx,
                                                     ServerState::Auth auth) {
        auto self = std::make_shared<SubscribeReactor>(state, ctx, std::move(auth));
        self->self_ = self;
        if (!state.tokens.stream_opened(self->token_, kMaxStreamsPerSession)) {
            self->refusal_ = make_error(
                Errc::rate_limited, "too many Subscribe streams open on this session (at most " +
                                        std::to_string(kMaxStreamsPerSession) + ")");
            self->stream_.end(PushStream::End::refused, false);
        } else {
            self->token_counted_ = true;
            if (!state.add_stream(self, self->session_)) {
                self->stream_.end(PushStream::End::shutdown, false);
            } else if (auto attached = state.service.attach_sink(self->session_, self); !attached) {
                self->refusal_ = attached.error();
                self->stream_.end(PushStream::End::refused, false);
            } else {
                self->attached_ = true;
                // Only a registered stream tells the client that pushes are live.
                ctx->AddInitialMetadata(std::string(kSubscribedKey), "1");
            }
        }
        // Sends the initial metadata (the client's signal that pushes are live) or finishes.
        self->pump();
        return self.get();
    }

    SubscribeReactor(ServerState& state, grpc::CallbackServerContext* ctx, ServerState::Auth auth)
        : state_(state),
          ctx_(ctx),
          session_(auth.session),
          token_(std::move(auth.token)),
          pusher_(state.pusher),
          stream_(state.service.limits().max_outbound_bytes, state.outbound,
                  state.service.limits().max_outbound_floor) {}

    // Sink: only enqueue; the pusher starts the write.
    void deliver(const Message& message) override {
        if (stream_.deliver(message)) schedule();
    }
    void logged_out(LogoutReason reason) override {
        if (stream_.logged_out(reason)) schedule();
    }

    void end(PushStream::End why, bool drain) {
        if (stream_.end(why, drain)) schedule();
    }

    void OnSendInitialMetadataDone(bool ok) override {
        stream_.op_done(ok);
        pump();
    }
    void OnWriteDone(bool ok) override {
        stream_.op_done(ok);
        pump();
    }
    void OnCancel() override {
        stream_.end(PushStream::End::cancelled, false);
        pump();
    }
    void OnDone() override {
        if (attached_) {
            state_.service.detach_sink(session_, this);
            // The session stays live for the idle timeout after its last stream closes.
            (void)state_.service.session_user(session_);
        }
        if (token_counted_) state_.tokens.stream_closed(token_);
        state_.remove_stream(this);
        self_.reset();  // may delete this
    }

   private:
    void schedule() {
        auto self = shared_from_this();
        if (PumpScope::defer(self)) return;
        pusher_->post([self = std::move(self)] { self->pump(); });
    }

   public:
    // Starts the next operation PushStream allows, if any.
    void pump() {
        auto action = stream_.next();
        switch (action.kind) {
            case PushStream::Action::Kind::none:
                return;
            case PushStream::Action::Kind::send_metadata:
                StartSendInitialMetadata();
                return;
            case PushStream::Action::Kind::write:
                out_.Clear();
                if (const auto* m = std::get_if<Message>(&action.event)) {
                    to_proto(*m, *out_.mutable_message());
                } else {
                    out_.mutable_logged_out()->set_reason(
                        to_string(std::get<LogoutReason>(action.event)));
                }
                StartWrite(&out_);
                return;
            case PushStream::Action::Kind::finish:
                Finish(final_status(action.end));
                return;
        }
    }

   private:
    grpc::Status final_status(PushStream::End why) {
        switch (why) {
            case PushStream::End::none:
            case PushStream::End::logged_out:
            case PushStream::End::logout:
                return grpc::Status::OK;
            case PushStream::End::overflow:
                log::write(log::Level::warn, kComponent, "push stream dropped: slow reader",
                           log::Fields().add("peer", ctx_->peer()).str());
                return {grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "push queue full (slow reader); unacknowledged messages stay queued: "
                        "fetch them"};
            case PushStream::End::cancelled:
                return grpc::Status::CANCELLED;
            case PushStream::End::shutdown: {
                const Error e = make_error(Errc::server_busy, "server shutting down");
                ctx_->AddTrailingMetadata(std::string(kErrorCodeKey),
                                          std::string(to_string(e.code)));
                return to_status(e);
            }
            case PushStream::End::refused: {
                log_failure("Subscribe", refusal_, *ctx_);
                ctx_->AddTrailingMetadata(std::string(kErrorCodeKey),
                                          std::string(to_string(refusal_.code)));
                return to_status(refusal_);
            }
        }
        return grpc::Status::OK;
    }

    ServerState& state_;
    grpc::CallbackServerContext* ctx_;
    const SessionId session_;
    const std::string token_;
    const std::shared_ptr<WorkerThread> pusher_;  // kept: a late Sink call may still post
    PushStream stream_;
    v1::Event out_;  // the write in flight; PushStream allows one at a time
    Error refusal_;
    bool attached_ = false;
    bool token_counted_ = false;
    std::shared_ptr<SubscribeReactor> self_;
};

PumpScope::~PumpScope() {
    if (current_ != this) return;
    current_ = nullptr;
    for (const auto& stream : pending_) stream->pump();
}

bool ServerState::add_stream(const std::shared_ptr<SubscribeReactor>& stream, SessionId session) {
    std::lock_guard lock(streams_mu);
    if (stopping) return false;
    streams.emplace(stream.get(), std::pair{session, std::weak_ptr<SubscribeReactor>(stream)});
    return true;
}

void ServerState::remove_stream(const SubscribeReactor* stream) {
    std::lock_guard lock(streams_mu);
    streams.erase(stream);
}

void ServerState::end_streams(std::optional<SessionId> session, PushStream::End why, bool drain) {
    std::vector<std::shared_ptr<SubscribeReactor>> targets;
    {
        std::lock_guard lock(streams_mu);
        if (why == PushStream::End::shutdown) stopping = true;
        for (const auto& [ptr, entry] : streams) {
            if (session && entry.first != *session) continue;
            if (auto s = entry.second.lock()) targets.push_back(std::move(s));
        }
    }
    for (const auto& s : targets) s->end(why, drain);
}

// A Subscribe call refused before any stream state exists (no valid token).
class RefusedStream final : public grpc::ServerWriteReactor<v1::Event> {
   public:
    RefusedStream(grpc::CallbackServerContext* ctx, const Error& error) {
        log_failure("Subscribe", error, *ctx);
        ctx->AddTrailingMetadata(std::string(kErrorCodeKey), std::string(to_string(error.code)));
        Finish(to_status(error));
    }
    void OnDone() override { delete this; }
};

// A Fetch call counted against its session's Fetch calls in flight until its reply is written
// (or the call ends otherwise).
class FetchReactor final : public grpc::ServerUnaryReactor {
   public:
    FetchReactor(TokenTable& tokens, std::string token)
        : tokens_(tokens), token_(std::move(token)) {}
    void OnDone() override {
        tokens_.fetch_finished(token_);
        delete this;
    }

   private:
    TokenTable& tokens_;
    const std::string token_;
};

// The service: one method per RPC, each a row mapping the request onto ChatService.
class ChatRpc final : public v1::Chat::CallbackService {
   public:
    explicit ChatRpc(ServerState& state) : state_(state) {}

    grpc::ServerUnaryReactor* Hello(grpc::CallbackServerContext* ctx, const v1::HelloRequest* req,
                                    v1::HelloResponse* resp) override {
        auto* r = ctx->DefaultReactor();
        if (auto admitted = state_.admit_anonymous(*ctx); !admitted) {
            fail(ctx, r, "Hello", admitted.error());
            return r;
        }
        auto info = state_.service.hello(req->version());
        if (!info) {
            fail(ctx, r, "Hello", info.error());
            return r;
        }
        resp->set_version(info->version);
        resp->set_server(info->server);
        resp->set_max_frame(info->max_frame);
        r->Finish(grpc::Status::OK);
        return r;
    }

    grpc::ServerUnaryReactor* CreateAccount(grpc::CallbackServerContext* ctx,
                                            const v1::CreateAccountRequest* req,
                                            v1::CreateAccountResponse* /*resp*/) override {
        auto* r = ctx->DefaultReactor();
        if (auto admitted = state_.admit_anonymous(*ctx); !admitted) {
            fail(ctx, r, "CreateAccount", admitted.error());
            return r;
        }
        state_.service.create_account(
            req->username(), req->password(),
            [ctx, r](Result<void> res) {
                if (!res) {
                    fail(ctx, r, "CreateAccount", res.error());
                    return;
                }
                r->Finish(grpc::Status::OK);
            },
            origin_of(*ctx));
        return r;
    }

    grpc::ServerUnaryReactor* Login(grpc::CallbackServerContext* ctx, const v1::LoginRequest* req,
                                    v1::LoginResponse* resp) override {
        auto* r = ctx->DefaultReactor();
        if (auto admitted = state_.admit_anonymous(*ctx); !admitted) {
            fail(ctx, r, "Login", admitted.error());
            return r;
        }
        // Any token the call carries is ignored: login always opens a new session. The origin
        // (failed logins are throttled per connection) is the connection's peer address, unique
        // among the open connections.
        state_.service.login(
            req->username(), req->password(), nullptr,
            [this, ctx, r, resp](Result<LoginResult> res) {
                if (!res) {
                    fail(ctx, r, "Login", res.error());
                    return;
                }
                resp->set_username(res->username);
                resp->set_unread(res->unread);
                resp->set_session_token(state_.tokens.issue(res->session));
                r->Finish(grpc::Status::OK);
            },
            origin_of(*ctx));
        return r;
    }

    grpc::ServerUnaryReactor* Logout(grpc::CallbackServerContext* ctx,
                                     const v1::LogoutRequest* /*req*/,
                                     v1::LogoutResponse* /*resp*/) override {
        auto* r = ctx->DefaultReactor();
        auto auth = state_.authenticate(*ctx);
        if (!auth) {
            fail(ctx, r, "Logout", auth.error());
            return r;
        }
        state_.tokens.revoke(auth->token);
        auto res = state_.service.logout(auth->session);
        state_.end_streams(auth->session, PushStream::End::logout, true);
        if (!res) {
            fail(ctx, r, "Logout", res.error());
            return r;
        }
        r->Finish(grpc::Status::OK);
        return r;
    }

    grpc::ServerUnaryReactor* Send(grpc::CallbackServerContext* ctx, const v1::SendRequest* req,
                                   v1::SendResponse* resp) override {
        auto* r = ctx->DefaultReactor();
        auto auth = state_.authenticate(*ctx);
        if (!auth) {
            fail(ctx, r, "Send", auth.error());
            return r;
        }
        const PumpScope pushes;  // pushes of this send leave from this thread
        state_.service.send(auth->session, req->to(), req->body(),
                            [ctx, r, resp](Result<Message> res) {
                                if (!res) {
                                    fail(ctx, r, "Send", res.error());
                                    return;
                                }
                                to_proto(*res, *resp->mutable_message());
                                r->Finish(grpc::Status::OK);
                            });
        return r;
    }

    grpc::ServerUnaryReactor* Fetch(grpc::CallbackServerContext* ctx, const v1::FetchRequest* req,
                                    v1::FetchResponse* resp) override {
        auto auth = state_.authenticate(*ctx);
        if (!auth) {
            auto* r = ctx->DefaultReactor();
            fail(ctx, r, "Fetch", auth.error());
            return r;
        }
        if (!state_.tokens.fetch_started(auth->token, kMaxFetchesInFlight)) {
            auto* r = ctx->DefaultReactor();
            fail(ctx, r, "Fetch",
                 make_error(Errc::rate_limited,
                            "too many Fetch calls in flight on this session (at most " +
                                std::to_string(kMaxFetchesInFlight) + "); read the replies"));
            return r;
        }
        auto* r = new FetchReactor(state_.tokens, std::move(auth->token));
        auto res = state_.service.fetch(auth->session, req->max());
        if (!res) {
            fail(ctx, r, "Fetch", res.error());
            return r;
        }
        resp->mutable_messages()->Reserve(static_cast<int>(res->messages.size()));
        for (const auto& m : res->messages) to_proto(m, *resp->add_messages());
        resp->set_remaining(res->remaining);
        r->Finish(grpc::Status::OK);
        return r;
    }

    grpc::ServerUnaryReactor* Ack(grpc::CallbackServerContext* ctx, const v1::AckRequest* req,
                                  v1::AckResponse* resp) override {
        auto* r = ctx->DefaultReactor();
        auto auth = state_.authenticate(*ctx);
        if (!auth) {
            fail(ctx, r, "Ack", auth.error());
            return r;
        }
        std::vector<MessageId> ids(req->ids().begin(), req->ids().end());
        const std::optional<MessageId> up_to =
            req->up_to() == 0 ? std::nullopt : std::optional<MessageId>(req->up_to());
        // Completes at once, or (SQLite, writer busy) with the next group commit.
        state_.service.ack(auth->session, std::move(ids), up_to,
                           [ctx, r, resp](Result<std::uint64_t> res) {
                               if (!res) {
                                   fail(ctx, r, "Ack", res.error());
                                   return;
                               }
                               resp->set_acked(*res);
                               r->Finish(grpc::Status::OK);
                           });
        return r;
    }

    grpc::ServerUnaryReactor* ListAccounts(grpc::CallbackServerContext* ctx,
                                           const v1::ListAccountsRequest* req,
                                           v1::ListAccountsResponse* resp) override {
        auto* r = ctx->DefaultReactor();
        auto auth = state_.authenticate(*ctx);
        if (!auth) {
            fail(ctx, r, "ListAccounts", auth.error());
            return r;
        }
        auto res =
            state_.service.list_accounts(auth->session, req->pattern(), req->limit(), req->after());
        if (!res) {
            fail(ctx, r, "ListAccounts", res.error());
            return r;
        }
        for (const auto& name : res->accounts) resp->add_accounts(name);
        resp->set_next(res->next.value_or(std::string()));
        r->Finish(grpc::Status::OK);
        return r;
    }

    grpc::ServerUnaryReactor* DeleteAccount(grpc::CallbackServerContext* ctx,
                                            const v1::DeleteAccountRequest* req,
                                            v1::DeleteAccountResponse* /*resp*/) override {
        auto* r = ctx->DefaultReactor();
        auto auth = state_.authenticate(*ctx);
        if (!auth) {
            fail(ctx, r, "DeleteAccount", auth.error());
            return r;
        }
        state_.service.delete_account(
            auth->session, req->password(),
            [this, ctx, r, token = std::move(auth->token)](Result<void> res) {
                if (!res) {
                    fail(ctx, r, "DeleteAccount", res.error());
                    return;
                }
                // The core tells the session's streams (logged_out) after this reply.
                state_.tokens.revoke(token);
                r->Finish(grpc::Status::OK);
            },
            origin_of(*ctx));
        return r;
    }

    grpc::ServerWriteReactor<v1::Event>* Subscribe(grpc::CallbackServerContext* ctx,
                                                   const v1::SubscribeRequest* /*req*/) override {
        auto auth = state_.authenticate(*ctx);
        if (!auth) return new RefusedStream(ctx, auth.error());
        return SubscribeReactor::open(state_, ctx, std::move(*auth));
    }

   private:
    ServerState& state_;
};

// Thread use: start()/stop() from one controlling thread; local_port() from any thread.
class GrpcServer final : public ServerTransport {
   public:
    GrpcServer(ChatService& service, ServerConfig config)
        : config_(std::move(config)),
          state_(std::make_unique<ServerState>(service, config_.outbound_budget)) {}

    ~GrpcServer() override { stop(); }

    void start() override {
        if (server_ || stopped_) throw std::logic_error("grpc transport started twice");
        prepare_grpc_runtime();
        static std::once_flag reflection_once;
        std::call_once(reflection_once,
                       [] { grpc::reflection::InitProtoReflectionServerBuilderPlugin(); });

        std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
        if (wants_tls(config_)) {
            try {
                credentials = make_server_tls_credentials(config_);
            } catch (const std::exception& e) {
                throw std::runtime_error(std::string("grpc transport: ") + e.what());
            }
        }
        rpc_ = std::make_unique<ChatRpc>(*state_);
        const std::string host =
            config_.listen.find(':') != std::string::npos && config_.listen.front() != '['
                ? "[" + config_.listen + "]"
                : config_.listen;
        const std::string address = host + ":" + std::to_string(config_.port);
        int selected = 0;
        grpc::ServerBuilder builder;
        builder.AddListeningPort(address, credentials, &selected);
        if (wants_tls(config_) && config_.tls_handshake_timeout.count() > 0) {
            builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                                       static_cast<int>(config_.tls_handshake_timeout.count()));
        }
        builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams);
        builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, kMaxConnectionIdleMs);
        builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
        builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
        // Bounds the memory gRPC itself takes for calls and the replies waiting to be written.
        grpc::ResourceQuota quota("chatd");
        if (const auto bytes = state_->service.limits().max_outbound_memory; bytes != 0) {
            quota.Resize(bytes);
            builder.SetResourceQuota(quota);
        }
        builder.RegisterService(rpc_.get());
        builder.SetMaxReceiveMessageSize(static_cast<int>(state_->service.limits().max_frame));
        server_ = builder.BuildAndStart();
        if (!server_ || selected <= 0) {
            server_.reset();
            rpc_.reset();
            throw std::runtime_error(
                "grpc transport cannot listen on " + address +
                (wants_tls(config_) ? " (or the TLS certificate and key are not usable)" : ""));
        }
        port_.store(static_cast<std::uint16_t>(selected));
        expiry_ = std::thread([this] { expire_loop(); });
        log::write(log::Level::info, kComponent, "serving",
                   log::Fields()
                       .add("transport", kName)
                       .add("address", config_.listen)
                       .add("port", selected)
                       .str());
    }

    void stop() override {
        if (!server_) return;
        stopped_ = true;
        // Open streams first: Shutdown waits for every call to finish.
        state_->end_streams(std::nullopt, PushStream::End::shutdown, false);
        server_->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
        {
            std::lock_guard lock(expiry_mu_);
            expiry_stop_ = true;
        }
        expiry_cv_.notify_all();
        if (expiry_.joinable()) expiry_.join();
        state_->pusher->stop();
        // Closing the transport logs its sessions out, as closing a JSON connection does.
        for (SessionId session : state_->tokens.clear()) (void)state_->service.logout(session);
        server_.reset();
        rpc_.reset();
        log::write(log::Level::info, kComponent, "stopped",
                   log::Fields().add("transport", kName).add("port", port_.load()).str());
    }

    std::uint16_t local_port() const override { return port_.load(); }
    std::string_view name() const override { return kName; }

   private:
    // Ends sessions idle for longer than Limits::session_idle (no call and no open stream).
    void expire_loop() {
        const auto idle = state_->service.limits().session_idle;
        const auto period = std::clamp<std::chrono::milliseconds>(
            idle / 4, std::chrono::milliseconds(20), std::chrono::milliseconds(5000));
        std::unique_lock lock(expiry_mu_);
        while (!expiry_cv_.wait_for(lock, period, [this] { return expiry_stop_; })) {
            lock.unlock();
            state_->service.expire_idle_sessions(idle);
            for (SessionId session : state_->tokens.expire_idle(idle)) {
                (void)state_->service.logout(session);  // not_logged_in if the core ended it
            }
            lock.lock();
        }
    }

    ServerConfig config_;
    std::unique_ptr<ServerState> state_;
    std::unique_ptr<ChatRpc> rpc_;
    std::unique_ptr<grpc::Server> server_;
    std::atomic<std::uint16_t> port_{0};
    bool stopped_ = false;  // a stopped transport is not started again (its pusher is gone)
    std::mutex expiry_mu_;
    std::condition_variable expiry_cv_;
    bool expiry_stop_ = false;
    std::thread expiry_;
};

}  // namespace

std::unique_ptr<ServerTransport> make_server(ChatService& service, const ServerConfig& config) {
    return std::make_unique<GrpcServer>(service, config);
}

}  // namespace chat::grpc_transport
