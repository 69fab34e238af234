// PushSubscription: the client's Subscribe stream, decoded into chat::Delivery events.
#include "push_subscription.hpp"

#include <optional>
#include <string_view>

#include "codec.hpp"

namespace chat::grpc_transport {

Error error_of(const grpc::Status& status, const grpc::ClientContext& ctx) {
    const auto& trailers = ctx.GetServerTrailingMetadata();
    auto it = trailers.find(grpc::string_ref(kErrorCodeKey.data(), kErrorCodeKey.size()));
    std::optional<std::string_view> code;
    if (it != trailers.end()) code = std::string_view(it->second.data(), it->second.size());
    return to_error(status, code);
}

void PushSubscription::start(v1::Chat::Stub& stub) {
    stub.async()->Subscribe(&ctx, &request_, this);
    StartCall();
}

void PushSubscription::OnReadInitialMetadataDone(bool ok) {
    const auto& md = ctx.GetServerInitialMetadata();
    registered_ =
        ok && md.find(grpc::string_ref(kSubscribedKey.data(), kSubscribedKey.size())) != md.end();
    // Not registered: the server ends the stream at once and OnDone reports why.
    if (!registered_) return;
    StartRead(&event_);
    ready_.set_value(Result<void>{});
}

void PushSubscription::OnReadDone(bool ok) {
    if (!ok) return;  // the stream ended; OnDone follows
    if (event_.has_message()) {
        delivery_.message(from_proto(event_.message()));
    } else if (event_.has_logged_out()) {
        saw_logged_out_ = true;
        on_logged_out_(token);
        // A reason this version does not know is still the end of the session.
        delivery_.logged_out(logout_reason_from_string(event_.logged_out().reason())
                                 .value_or(LogoutReason::account_deleted));
    }
    StartRead(&event_);
}

void PushSubscription::OnDone(const grpc::Status& status) {
    if (!registered_) {
        ready_.set_value(status.ok()
                             ? Result<void>(make_error(Errc::internal, "push stream ended at once"))
                             : Result<void>(error_of(status, ctx)));
    } else if (!cancelled && !saw_logged_out_) {
        delivery_.disconnected(status.ok()
                                   ? make_error(Errc::internal, "push stream ended by the server")
                                   : error_of(status, ctx));
    }
    // Last: the owner may destroy this object as soon as the future is ready.
    auto ended = std::move(ended_);
    ended.set_value();
}

}  // namespace chat::grpc_transport
