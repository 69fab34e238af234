// The client half of the gRPC transport: chat::Client over a grpc::Channel.
//
// Threads: request methods block the caller on a unary call with a deadline. The Subscribe
// stream of a login is read by a reactor on gRPC's threads (PushSubscription); it never runs
// application code but hands every event to chat::Delivery, whose thread runs all callbacks —
// pushes, logged_out, disconnect and send_async completions — in order, so a callback may block
// or call back into the client. Acks of auto_ack and send_async use the async callback API;
// their completions only update state and post to the Delivery.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "chat/delivery.hpp"
#include "chat/grpc/grpc_transport.hpp"
#include "chat/log.hpp"
#include "chat/v1/chat.grpc.pb.h"
#include "chat/validation.hpp"
#include "client_channel.hpp"
#include "codec.hpp"
#include "push_subscription.hpp"
#include "settings.hpp"

namespace chat::grpc_transport {

namespace {

using Clock = std::chrono::system_clock;

// The Logout that close() sends on the way out is best effort; do not linger on it.
constexpr std::chrono::milliseconds kCloseLogoutTimeout{2000};

// proto3 `string` fields carry only valid UTF-8, so text that is not cannot reach the server.
// The client answers for it with the code the server's rules give such text (check_utf8, the
// core's one table; docs/protocol.md), so an application sees the same outcome on both
// transports.

Error no_session() { return make_error(Errc::not_logged_in, "not logged in"); }

template <class Req, class Resp>
using UnaryMethod = grpc::Status (v1::Chat::Stub::*)(grpc::ClientContext*, const Req&, Resp*);

struct SendCall {
    grpc::ClientContext ctx;
    v1::SendRequest req;
    v1::SendResponse resp;
    std::function<void(Result<Message>)> done;
    bool direct = false;  // run `done` on the completing thread (it only fulfils a promise)
};

struct AckCall {
    grpc::ClientContext ctx;
    v1::AckRequest req;
    v1::AckResponse resp;
};

class GrpcClient final : public Client {
   public:
    explicit GrpcClient(ClientConfig config)
        : config_(std::move(config)),
          max_sends_in_flight_(client_settings(config_.settings).max_sends_in_flight),
          delivery_(config_.auto_ack, "grpc-callbacks") {
        delivery_.set_ack_sender([this](std::vector<MessageId> ids, std::function<void()> done) {
            start_ack(std::move(ids), std::move(done));
        });
    }

    ~GrpcClient() override { close(); }

    Result<void> connect() override {
        if (stub()) return make_error(Errc::internal, "already connected");
        auto channel = open_client_channel(config_);
        if (!channel) return channel.error();
        std::lock_guard lock(mu_);
        stub_ = std::shared_ptr<v1::Chat::Stub>(v1::Chat::NewStub(*channel));
        return {};
    }

    void close() override {
        if (closing_.exchange(true)) return;
        {
            std::lock_guard session_lock(session_mu_);
            retire_subscription(std::chrono::milliseconds(0));
        }
        // First, so that no handler waits for a send that would never start.
        fail_queued_sends();
        // No handler runs and no ack starts after this (send completions still do). No lock is
        // held here: a running callback may still call into this client.
        delivery_.close();
        wait_async_idle();
        delivery_.drain();  // the calls released by completions (see release_on_callback_thread)
        std::lock_guard session_lock(session_mu_);
        if (const auto token = current_token(); !token.empty()) {
            (void)unary(&v1::Chat::Stub::Logout, v1::LogoutRequest{}, token,
                        std::min(config_.timeout, kCloseLogoutTimeout), /*allow_closing=*/true);
        }
        // Dropping the last reference to the channel closes the connection.
        std::lock_guard lock(mu_);
        token_.clear();
        stub_.reset();
    }

    Result<HelloInfo> hello(int version) override {
        v1::HelloRequest req;
        req.set_version(version);
        auto resp = unary(&v1::Chat::Stub::Hello, req, {});
        if (!resp) return resp.error();
        return HelloInfo{.version = resp->version(),
                         .server = resp->server(),
                         .max_frame = static_cast<std::size_t>(resp->max_frame())};
    }

    Result<void> create_account(std::string_view username, std::string_view password) override {
        if (auto bad = check_utf8(TextField::username, username)) return *bad;
        if (auto bad = check_utf8(TextField::password, password)) return *bad;
        v1::CreateAccountRequest req;
        req.set_username(std::string(username));
        req.set_password(std::string(password));
        auto resp = unary(&v1::Chat::Stub::CreateAccount, req, {});
        if (!resp) return resp.error();
        return {};
    }

    Result<LoginResult> login(std::string_view username, std::string_view password) override {
        if (!is_valid_utf8(username) || !is_valid_utf8(password)) {
            return make_error(Errc::bad_credentials, "unknown user or wrong password");
        }
        std::lock_guard session_lock(session_mu_);
        v1::LoginRequest req;
        req.set_username(std::string(username));
        req.set_password(std::string(password));
        auto resp = unary(&v1::Chat::Stub::Login, req, {});
        if (!resp) return resp.error();  // a session this client had is untouched
        // Login always makes a new session on gRPC. A client holds one: the one it had before
        // (if any) ends here, its stream first. A stream the server is ending (the account was
        // deleted) may finish delivering its logged_out.
        retire_subscription(config_.timeout);
        if (const auto old = current_token(); !old.empty()) {
            (void)unary(&v1::Chat::Stub::Logout, v1::LogoutRequest{}, old);
        }
        set_token(resp->session_token());
        if (auto sub = open_subscription(resp->session_token()); !sub) {
            (void)unary(&v1::Chat::Stub::Logout, v1::LogoutRequest{}, resp->session_token());
            set_token({});
            return sub.error();
        }
        return LoginResult{.username = resp->username(), .unread = resp->unread(), .session = 0};
    }

    Result<void> logout() override {
        std::lock_guard session_lock(session_mu_);
        retire_subscription(std::chrono::milliseconds(0));
        auto resp = unary(&v1::Chat::Stub::Logout, v1::LogoutRequest{}, current_token());
        if (resp || resp.code() == Errc::not_logged_in) set_token({});
        if (!resp) return resp.error();
        return {};
    }

    Result<Message> send(std::string_view to, std::string_view body) override {
        auto promise = std::make_shared<std::promise<Result<Message>>>();
        auto future = promise->get_future();
        enqueue_send(
            to, body, [promise](Result<Message> r) { promise->set_value(std::move(r)); }, true);
        return future.get();
    }

    void send_async(std::string_view to, std::string_view body,
                    std::function<void(Result<Message>)> done) override {
        enqueue_send(to, body, std::move(done), false);
    }

    Result<FetchResult> fetch(std::uint64_t max) override {
        v1::FetchRequest req;
        req.set_max(max);
        auto resp = unary(&v1::Chat::Stub::Fetch, req, current_token());
        if (!resp) return resp.error();
        FetchResult out;
        out.messages.reserve(static_cast<std::size_t>(resp->messages_size()));
        for (const auto& m : resp->messages()) out.messages.push_back(from_proto(m));
        out.remaining = resp->remaining();
        return out;
    }

    Result<std::uint64_t> ack(const std::vector<MessageId>& ids,
                              std::optional<MessageId> up_to) override {
        v1::AckRequest req;
        req.mutable_ids()->Add(ids.begin(), ids.end());
        req.set_up_to(up_to.value_or(0));
        auto resp = unary(&v1::Chat::Stub::Ack, req, current_token());
        if (!resp) return resp.error();
        return std::uint64_t{resp->acked()};
    }

    Result<AccountPage> list_accounts(std::string_view pattern, std::uint64_t limit,
                                      std::string_view after) override {
        if (!is_valid_utf8(pattern) || !is_valid_utf8(after)) {
            if (current_token().empty()) return no_session();
            if (auto bad = check_utf8(TextField::pattern, pattern)) return *bad;
            return *check_utf8(TextField::cursor, after);
        }
        v1::ListAccountsRequest req;
        req.set_pattern(std::string(pattern));
        req.set_limit(limit);
        req.set_after(std::string(after));
        auto resp = unary(&v1::Chat::Stub::ListAccounts, req, current_token());
        if (!resp) return resp.error();
        AccountPage page;
        page.accounts.assign(resp->accounts().begin(), resp->accounts().end());
        if (!resp->next().empty()) page.next = resp->next();
        return page;
    }

    Result<void> delete_account(std::string_view password) override {
        if (!is_valid_utf8(password)) {
            if (current_token().empty()) return no_session();
            return make_error(Errc::bad_credentials, "wrong password");
        }
        std::lock_guard session_lock(session_mu_);
        v1::DeleteAccountRequest req;
        req.set_password(std::string(password));
        auto resp = unary(&v1::Chat::Stub::DeleteAccount, req, current_token());
        if (!resp) return resp.error();
        // The server now sends LoggedOut on our stream and ends it; the reader hands that to
        // on_logged_out. The stream is joined by the next login or close().
        {
            std::lock_guard lock(mu_);
            if (sub_) sub_->server_ends = true;
        }
        set_token({});
        return {};
    }

    void on_message(MessageHandler handler) override { delivery_.on_message(std::move(handler)); }
    void on_logged_out(LoggedOutHandler handler) override {
        delivery_.on_logged_out(std::move(handler));
    }
    void on_disconnect(DisconnectHandler handler) override {
        delivery_.on_disconnect(std::move(handler));
    }

   private:
    // A unary call with deadline `timeout` (default: the configured one), carrying `token`
    // unless it is empty.
    template <class Req, class Resp>
    Result<Resp> unary(UnaryMethod<Req, Resp> method, const Req& req, const std::string& token,
                       std::optional<std::chrono::milliseconds> timeout = std::nullopt,
                       bool allow_closing = false) {
        if (closing_ && !allow_closing) return make_error(Errc::internal, "client is closed");
        const auto s = stub();
        if (!s) return make_error(Errc::internal, "not connected");
        grpc::ClientContext ctx;
        ctx.set_deadline(Clock::now() + timeout.value_or(config_.timeout));
        add_token(ctx, token);
        Resp resp;
        const grpc::Status status = (s.get()->*method)(&ctx, req, &resp);
        if (!status.ok()) return error_of(status, ctx);
        return resp;
    }

    static void add_token(grpc::ClientContext& ctx, const std::string& token) {
        if (!token.empty()) ctx.AddMetadata(std::string(kAuthorizationKey), "Bearer " + token);
    }

    std::shared_ptr<v1::Chat::Stub> stub() const {
        std::lock_guard lock(mu_);
        return stub_;
    }

    std::string current_token() const {
        std::lock_guard lock(mu_);
        return token_;
    }
    void set_token(std::string token) {
        std::lock_guard lock(mu_);
        token_ = std::move(token);
    }

    // --- the push stream ---

    // Starts the Subscribe stream for `token` and waits until the server has registered it
    // (its initial metadata), so pushes are live when login returns.
    Result<void> open_subscription(const std::string& token) {
        const auto s = stub();
        if (!s) return make_error(Errc::internal, "not connected");
        auto sub = std::make_unique<PushSubscription>(
            token, delivery_, [this](const std::string& ended) { clear_token_if(ended); });
        add_token(sub->ctx, token);
        sub->start(*s);
        if (sub->registered_future.wait_for(config_.timeout) != std::future_status::ready) {
            sub->cancelled = true;
            sub->ctx.TryCancel();
            sub->ended_future.wait();
            return make_error(Errc::internal, "timed out opening the push stream");
        }
        if (auto r = sub->registered_future.get(); !r) {
            sub->ended_future.wait();
            return r.error();
        }
        std::lock_guard lock(mu_);
        sub_ = std::move(sub);
        return {};
    }

    void clear_token_if(const std::string& token) {
        std::lock_guard lock(mu_);
        if (token_ == token) token_.clear();
    }

    // Ends the current stream: waits up to `grace` for a stream the server is ending anyway,
    // cancels it otherwise, and waits until it has ended.
    void retire_subscription(std::chrono::milliseconds grace) {
        std::unique_ptr<PushSubscription> s;
        {
            std::lock_guard lock(mu_);
            s = std::move(sub_);
        }
        if (!s) return;
        const bool let_end = s->server_ends && grace.count() > 0 &&
                             s->ended_future.wait_for(grace) == std::future_status::ready;
        if (!let_end) {
            s->cancelled = true;
            s->ctx.TryCancel();
        }
        s->ended_future.wait();
    }

    // --- auto-ack: one Ack for a batch of ids chat::Delivery handed over (on its thread) ---

    void start_ack(std::vector<MessageId> batch, std::function<void()> done) {
        const std::string token = current_token();
        const auto s = stub();
        if (token.empty() || !s || closing_) {  // logged out: the server keeps them queued
            done();
            return;
        }
        auto call = std::make_shared<AckCall>();
        call->req.mutable_ids()->Add(batch.begin(), batch.end());
        call->ctx.set_deadline(Clock::now() + config_.timeout);
        add_token(call->ctx, token);
        begin_async();
        s->async()->Ack(
            &call->ctx, &call->req, &call->resp,
            [this, call, done = std::move(done)](grpc::Status st) mutable {
                release_on_callback_thread(std::move(call));
                if (!st.ok() && log::enabled(log::Level::debug)) {
                    log::write(log::Level::debug, "grpc", "auto-ack failed",
                               log::Fields().add("code", static_cast<int>(st.error_code())).str());
                }
                done();
                end_async();  // last use of `this`
            });
    }

    // --- sends: at most max_sends_in_flight_ Sends in flight per client; later ones wait in
    // send_queue_. With one in flight the sender's order is kept (gRPC gives no order between
    // concurrent calls) ---

    void enqueue_send(std::string_view to, std::string_view body,
                      std::function<void(Result<Message>)> done, bool direct) {
        auto call = std::make_shared<SendCall>();
        call->done = std::move(done);
        call->direct = direct;
        std::optional<Error> early;
        if (!is_valid_utf8(to) || !is_valid_utf8(body)) {
            // In the server's order: the session, the body, then the recipient.
            if (current_token().empty()) {
                early = no_session();
            } else if (auto bad = check_utf8(TextField::body, body)) {
                early = std::move(bad);
            } else {
                early = check_utf8(TextField::recipient, to);
            }
        }
        if (!early) {
            call->req.set_to(std::string(to));
            call->req.set_body(std::string(body));
            std::lock_guard lock(send_mu_);
            if (closing_) {
                early = make_error(Errc::internal, "client is closed");
            } else if (sends_in_flight_ >= max_sends_in_flight_) {
                send_queue_.push_back(std::move(call));
                return;
            } else {
                ++sends_in_flight_;
            }
        }
        if (early) {
            complete_send(*call, std::move(*early));
            return;
        }
        start_send(std::move(call));
    }

    void start_send(std::shared_ptr<SendCall> call) {
        const auto s = stub();
        if (!s) {
            complete_send(*call, make_error(Errc::internal, "not connected"));
            {
                std::lock_guard lock(send_mu_);
                --sends_in_flight_;
            }
            fail_queued_sends();
            return;
        }
        call->ctx.set_deadline(Clock::now() + config_.timeout);
        add_token(call->ctx, current_token());
        begin_async();
        SendCall* c = call.get();
        s->async()->Send(
            &c->ctx, &c->req, &c->resp, [this, call = std::move(call)](grpc::Status st) mutable {
                Result<Message> result = st.ok() ? Result<Message>(from_proto(call->resp.message()))
                                                 : Result<Message>(error_of(st, call->ctx));
                finish_send(std::move(call), std::move(result));
                std::shared_ptr<SendCall> next;
                {
                    std::lock_guard lock(send_mu_);
                    if (closing_ || send_queue_.empty()) {
                        --sends_in_flight_;
                    } else {
                        next = std::move(send_queue_.front());
                        send_queue_.pop_front();
                    }
                }
                if (next) start_send(std::move(next));
                end_async();  // last use of `this`
            });
    }

    void complete_send(SendCall& call, Result<Message> result) {
        if (!call.done) return;
        if (call.direct) {
            call.done(std::move(result));
            return;
        }
        auto done = std::move(call.done);
        // The Delivery runs posted tasks until the client is destroyed, which waits for every send.
        delivery_.post(
            [done = std::move(done), r = std::move(result)]() mutable { done(std::move(r)); });
    }

    // A Send call completed: its `done` and the release of the call (see
    // release_on_callback_thread) go to the callback thread as one task.
    void finish_send(std::shared_ptr<SendCall> call, Result<Message> result) {
        if (call->direct || !call->done) {
            complete_send(*call, std::move(result));
            release_on_callback_thread(std::move(call));
            return;
        }
        delivery_.post([call = std::move(call), r = std::move(result)]() mutable {
            auto done = std::move(call->done);
            done(std::move(r));
            call.reset();
        });
    }

    void fail_queued_sends() {
        std::deque<std::shared_ptr<SendCall>> queued;
        {
            std::lock_guard lock(send_mu_);
            queued.swap(send_queue_);
        }
        for (auto& call : queued) complete_send(*call, make_error(Errc::internal, "client closed"));
    }

    // A finished async call's ClientContext holds a reference to the channel. Were it the last
    // one (after close()), destroying it on the gRPC thread running the completion would tear
    // the channel down on that thread, and with it (once no server or other channel uses it)
    // gRPC's shared callback thread pool, which then joins the very thread doing it. So the
    // call is destroyed on the Delivery's thread; close() waits for that before dropping the
    // channel.
    template <class Call>
    void release_on_callback_thread(std::shared_ptr<Call> call) {
        delivery_.post([call = std::move(call)]() mutable { call.reset(); });
    }

    void begin_async() {
        std::lock_guard lock(async_mu_);
        ++async_outstanding_;
    }
    void end_async() {
        std::lock_guard lock(async_mu_);
        if (--async_outstanding_ == 0) async_cv_.notify_all();
    }
    void wait_async_idle() {
        std::unique_lock lock(async_mu_);
        async_cv_.wait(lock, [this] { return async_outstanding_ == 0; });
    }

    const ClientConfig config_;

    std::atomic<bool> closing_{false};
    std::mutex session_mu_;  // serialises login, logout, delete_account and close

    mutable std::mutex mu_;                 // guards stub_, token_ and sub_
    std::shared_ptr<v1::Chat::Stub> stub_;  // holds the channel; from connect() until close()
    std::string token_;
    std::unique_ptr<PushSubscription> sub_;

    std::mutex send_mu_;
    std::deque<std::shared_ptr<SendCall>> send_queue_;
    const std::size_t max_sends_in_flight_;
    std::size_t sends_in_flight_ = 0;  // at most max_sends_in_flight_

    std::mutex async_mu_;
    std::condition_variable async_cv_;
    std::size_t async_outstanding_ = 0;

    // Last, so it is destroyed first: its remaining tasks still see the members above.
    Delivery delivery_;
};

}  // namespace

std::unique_ptr<Client> make_client(const ClientConfig& config) {
    return std::make_unique<GrpcClient>(config);
}

}  // namespace chat::grpc_transport
