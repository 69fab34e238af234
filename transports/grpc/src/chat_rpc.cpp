// ChatRpc: the handlers of the chat.v1.Chat callback service. Each one admits or authenticates
// the call (a refused call ends at once with its error), makes one ChatService call and finishes
// from its completion.
#include "chat_rpc.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "codec.hpp"
#include "subscribe_reactor.hpp"

namespace chat::grpc_transport {

namespace {

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

}  // namespace

grpc::ServerUnaryReactor* ChatRpc::Hello(grpc::CallbackServerContext* ctx,
                                         const v1::HelloRequest* req, v1::HelloResponse* resp) {
    if (auto admitted = state_.admit_anonymous(*ctx); !admitted) {
        return refused(ctx, "Hello", admitted.error());
    }
    auto info = state_.service.hello(req->version());
    if (!info) return refused(ctx, "Hello", info.error());
    auto* r = ctx->DefaultReactor();
    resp->set_version(info->version);
    resp->set_server(info->server);
    resp->set_max_frame(info->max_frame);
    r->Finish(grpc::Status::OK);
    return r;
}

grpc::ServerUnaryReactor* ChatRpc::CreateAccount(grpc::CallbackServerContext* ctx,
                                                 const v1::CreateAccountRequest* req,
                                                 v1::CreateAccountResponse* /*resp*/) {
    if (auto admitted = state_.admit_anonymous(*ctx); !admitted) {
        return refused(ctx, "CreateAccount", admitted.error());
    }
    auto* r = ctx->DefaultReactor();
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

grpc::ServerUnaryReactor* ChatRpc::Login(grpc::CallbackServerContext* ctx,
                                         const v1::LoginRequest* req, v1::LoginResponse* resp) {
    if (auto admitted = state_.admit_anonymous(*ctx); !admitted) {
        return refused(ctx, "Login", admitted.error());
    }
    auto* r = ctx->DefaultReactor();
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

grpc::ServerUnaryReactor* ChatRpc::Logout(grpc::CallbackServerContext* ctx,
                                          const v1::LogoutRequest* /*req*/,
                                          v1::LogoutResponse* /*resp*/) {
    auto auth = state_.authenticate(*ctx);
    if (!auth) return refused(ctx, "Logout", auth.error());
    state_.tokens.revoke(auth->token);
    auto res = state_.service.logout(auth->session);
    state_.end_streams(auth->session, PushStream::End::logout, true);
    if (!res) return refused(ctx, "Logout", res.error());
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
}

grpc::ServerUnaryReactor* ChatRpc::Send(grpc::CallbackServerContext* ctx,
                                        const v1::SendRequest* req, v1::SendResponse* resp) {
    auto auth = state_.authenticate(*ctx);
    if (!auth) return refused(ctx, "Send", auth.error());
    auto* r = ctx->DefaultReactor();
    const PumpScope pushes;  // pushes of this send leave from this thread
    state_.service.send(auth->session, req->to(), req->body(), [ctx, r, resp](Result<Message> res) {
        if (!res) {
            fail(ctx, r, "Send", res.error());
            return;
        }
        to_proto(*res, *resp->mutable_message());
        r->Finish(grpc::Status::OK);
    });
    return r;
}

grpc::ServerUnaryReactor* ChatRpc::Fetch(grpc::CallbackServerContext* ctx,
                                         const v1::FetchRequest* req, v1::FetchResponse* resp) {
    auto auth = state_.authenticate(*ctx);
    if (!auth) return refused(ctx, "Fetch", auth.error());
    if (!state_.tokens.fetch_started(auth->token, kMaxFetchesInFlight)) {
        return refused(ctx, "Fetch",
                       make_error(Errc::rate_limited,
                                  "too many Fetch calls in flight on this session (at most " +
                                      std::to_string(kMaxFetchesInFlight) + "); read the replies"));
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

grpc::ServerUnaryReactor* ChatRpc::Ack(grpc::CallbackServerContext* ctx, const v1::AckRequest* req,
                                       v1::AckResponse* resp) {
    auto auth = state_.authenticate(*ctx);
    if (!auth) return refused(ctx, "Ack", auth.error());
    // docs/protocol.md: up_to 0 is the same as not given (message ids start at 1), and an ack
    // that names nothing is bad_request on every transport.
    if (req->ids().empty() && req->up_to() == 0) {
        return refused(ctx, "Ack",
                       make_error(Errc::bad_request, "ack needs ids or up_to (ids start at 1)"));
    }
    std::vector<MessageId> ids(req->ids().begin(), req->ids().end());
    const std::optional<MessageId> up_to =
        req->up_to() == 0 ? std::nullopt : std::optional<MessageId>(req->up_to());
    auto* r = ctx->DefaultReactor();
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

grpc::ServerUnaryReactor* ChatRpc::ListAccounts(grpc::CallbackServerContext* ctx,
                                                const v1::ListAccountsRequest* req,
                                                v1::ListAccountsResponse* resp) {
    auto auth = state_.authenticate(*ctx);
    if (!auth) return refused(ctx, "ListAccounts", auth.error());
    auto res =
        state_.service.list_accounts(auth->session, req->pattern(), req->limit(), req->after());
    if (!res) return refused(ctx, "ListAccounts", res.error());
    for (const auto& name : res->accounts) resp->add_accounts(name);
    resp->set_next(res->next.value_or(std::string()));
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
}

grpc::ServerUnaryReactor* ChatRpc::DeleteAccount(grpc::CallbackServerContext* ctx,
                                                 const v1::DeleteAccountRequest* req,
                                                 v1::DeleteAccountResponse* /*resp*/) {
    auto auth = state_.authenticate(*ctx);
    if (!auth) return refused(ctx, "DeleteAccount", auth.error());
    auto* r = ctx->DefaultReactor();
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

grpc::ServerWriteReactor<v1::Event>* ChatRpc::Subscribe(grpc::CallbackServerContext* ctx,
                                                        const v1::SubscribeRequest* /*req*/) {
    auto auth = state_.authenticate(*ctx);
    if (!auth) return new RefusedStream(ctx, auth.error());
    return SubscribeReactor::open(state_, ctx, std::move(*auth));
}

}  // namespace chat::grpc_transport
