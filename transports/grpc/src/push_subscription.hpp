// PushSubscription: one login's Subscribe stream on the client side, read by a reactor on
// gRPC's threads (no thread of its own). It decodes every event and hands it to the client's
// chat::Delivery, which runs the application's handlers (docs/protocol.md, "gRPC transport").
// Thread use: owned by the client; destroyed only after ended_future is ready (OnDone ran), so
// no reaction outlives it. `cancelled` and `server_ends` may be set from any thread.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <future>
#include <string>

#include "chat/delivery.hpp"
#include "chat/error.hpp"
#include "chat/v1/chat.grpc.pb.h"

namespace chat::grpc_transport {

// The chat::Error of a failed call: its status and the error-code trailer the server adds.
Error error_of(const grpc::Status& status, const grpc::ClientContext& ctx);

class PushSubscription final : public grpc::ClientReadReactor<v1::Event> {
   public:
    // `on_logged_out` runs on a gRPC thread when the server ends the session on this stream,
    // before the event is queued for the handlers (the client forgets the session's token).
    PushSubscription(std::string stream_token, Delivery& delivery,
                     std::function<void(const std::string& token)> on_logged_out)
        : token(std::move(stream_token)),
          delivery_(delivery),
          on_logged_out_(std::move(on_logged_out)) {}

    // Starts the call; registered_future tells whether the server registered it for pushes.
    void start(v1::Chat::Stub& stub);

    void OnReadInitialMetadataDone(bool ok) override;
    void OnReadDone(bool ok) override;
    void OnDone(const grpc::Status& status) override;

    grpc::ClientContext ctx;
    const std::string token;
    std::atomic<bool> cancelled{false};    // we ended it; its end is no disconnect
    std::atomic<bool> server_ends{false};  // DeleteAccount succeeded; the server ends it

   private:
    Delivery& delivery_;
    std::function<void(const std::string&)> on_logged_out_;
    std::promise<Result<void>> ready_;
    std::promise<void> ended_;

   public:
    std::future<Result<void>> registered_future = ready_.get_future();
    std::future<void> ended_future = ended_.get_future();

   private:
    v1::SubscribeRequest request_;
    v1::Event event_;
    // Set by OnReadInitialMetadataDone before the first read starts; read by later reactions.
    bool registered_ = false;
    bool saw_logged_out_ = false;
};

}  // namespace chat::grpc_transport
