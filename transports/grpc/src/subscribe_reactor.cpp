// The Subscribe push stream of the gRPC server: registration, the Sink calls, the write pump and
// how a stream ends.
#include "subscribe_reactor.hpp"

#include <utility>
#include <variant>

#include "chat/log.hpp"
#include "codec.hpp"

namespace chat::grpc_transport {

thread_local PumpScope* PumpScope::current_ = nullptr;

PumpScope::~PumpScope() {
    if (current_ != this) return;
    current_ = nullptr;
    for (const auto& stream : pending_) stream->pump();
}

grpc::ServerWriteReactor<v1::Event>* SubscribeReactor::open(ServerState& state,
                                                            grpc::CallbackServerContext* ctx,
                                                            ServerState::Auth auth) {
    auto self = std::make_shared<SubscribeReactor>(state, ctx, std::move(auth));
    self->self_ = self;
    if (!state.tokens.stream_opened(self->token_, kMaxStreamsPerSession)) {
        self->refusal_ = make_error(Errc::rate_limited,
                                    "too many Subscribe streams open on this session (at most " +
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

SubscribeReactor::SubscribeReactor(ServerState& state, grpc::CallbackServerContext* ctx,
                                   ServerState::Auth auth)
    : state_(state),
      ctx_(ctx),
      session_(auth.session),
      token_(std::move(auth.token)),
      pusher_(state.pusher),
      stream_(state.service.limits().max_outbound_bytes, state.outbound,
              state.service.limits().max_outbound_floor) {}

void SubscribeReactor::deliver(const Message& message) {
    if (stream_.deliver(message)) schedule();
}

void SubscribeReactor::logged_out(LogoutReason reason) {
    if (stream_.logged_out(reason)) schedule();
}

void SubscribeReactor::end(PushStream::End why, bool drain) {
    if (stream_.end(why, drain)) schedule();
}

void SubscribeReactor::OnSendInitialMetadataDone(bool ok) {
    stream_.op_done(ok);
    pump();
}

void SubscribeReactor::OnWriteDone(bool ok) {
    stream_.op_done(ok);
    pump();
}

void SubscribeReactor::OnCancel() {
    stream_.end(PushStream::End::cancelled, false);
    pump();
}

void SubscribeReactor::OnDone() {
    if (attached_) {
        state_.service.detach_sink(session_, this);
        // The session stays live for the idle timeout after its last stream closes.
        (void)state_.service.session_user(session_);
    }
    if (token_counted_) state_.tokens.stream_closed(token_);
    state_.remove_stream(this);
    self_.reset();  // may delete this
}

void SubscribeReactor::schedule() {
    auto self = shared_from_this();
    if (PumpScope::defer(self)) return;
    pusher_->post([self = std::move(self)] { self->pump(); });
}

void SubscribeReactor::pump() {
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

grpc::Status SubscribeReactor::final_status(PushStream::End why) {
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
        case PushStream::End::shutdown:
            return error_status(*ctx_, make_error(Errc::server_busy, "server shutting down"));
        case PushStream::End::refused:
            log_failure("Subscribe", refusal_, *ctx_);
            return error_status(*ctx_, refusal_);
    }
    return grpc::Status::OK;
}

RefusedStream::RefusedStream(grpc::CallbackServerContext* ctx, const Error& error) {
    log_failure("Subscribe", error, *ctx);
    Finish(error_status(*ctx, error));
}

}  // namespace chat::grpc_transport
