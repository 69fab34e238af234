// The Subscribe push stream of the gRPC server: SubscribeReactor, a server-streaming reactor
// that is also the session's Sink; RefusedStream for a Subscribe refused before any stream state
// exists; and PumpScope, which lets the thread that ran a Send start the writes its pushes need.
// Thread use: see each class.
#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <memory>
#include <string>
#include <vector>

#include "chat/error.hpp"
#include "chat/sink.hpp"
#include "chat/types.hpp"
#include "chat/v1/chat.pb.h"
#include "push_stream.hpp"
#include "server_state.hpp"
#include "worker_thread.hpp"

namespace chat::grpc_transport {

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
    // The reactor of an authenticated Subscribe call: registered with the core, or finished at
    // once when the session may not open another stream or the server is stopping.
    static grpc::ServerWriteReactor<v1::Event>* open(ServerState& state,
                                                     grpc::CallbackServerContext* ctx,
                                                     ServerState::Auth auth);

    SubscribeReactor(ServerState& state, grpc::CallbackServerContext* ctx, ServerState::Auth auth);

    // Sink: only enqueue; the pusher starts the write.
    void deliver(const Message& message) override;
    void logged_out(LogoutReason reason) override;

    // Ends the stream (Logout, stop()); with `drain`, after the queued pushes are written.
    void end(PushStream::End why, bool drain);

    // Starts the next operation PushStream allows, if any.
    void pump();

    void OnSendInitialMetadataDone(bool ok) override;
    void OnWriteDone(bool ok) override;
    void OnCancel() override;
    void OnDone() override;

   private:
    void schedule();
    grpc::Status final_status(PushStream::End why);

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

// A Subscribe call refused before any stream state exists (no valid token).
class RefusedStream final : public grpc::ServerWriteReactor<v1::Event> {
   public:
    RefusedStream(grpc::CallbackServerContext* ctx, const Error& error);
    void OnDone() override { delete this; }
};

}  // namespace chat::grpc_transport
