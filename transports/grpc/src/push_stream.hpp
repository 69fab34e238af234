// PushStream: the state of one Subscribe stream, free of gRPC. The core's Sink calls only
// enqueue here; the stream's driver (the gRPC reactor) asks next() which single operation to
// start, and reports its completion with op_done(). This keeps the rules — initial metadata
// first, one operation in flight, Finish exactly once and never while a write is pending, a
// bounded queue — in one place that tests can drive without a network.
// Thread use: safe from any number of threads (one internal mutex); never blocks.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <variant>

#include "chat/outbound_budget.hpp"
#include "chat/types.hpp"

namespace chat::grpc_transport {

class PushStream final {
   public:
    // Why the stream ends.
    enum class End {
        none,
        logged_out,  // a LoggedOut event was queued; it is written, then the stream ends OK
        logout,      // the session logged out (its Logout RPC); ends OK after the queue drains
        overflow,    // the queue went over its byte bound or the process-wide budget (slow reader)
        cancelled,   // the client went away, or an operation failed
        shutdown,    // the server stops
        refused,     // the stream could not be registered (no live session)
    };

    using Event = std::variant<Message, LogoutReason>;

    struct Action {
        enum class Kind { none, send_metadata, write, finish };
        Kind kind = Kind::none;
        Event event;          // for write
        End end = End::none;  // for finish
    };

    // `max_bytes`: bound of the queued pushes (approximate wire bytes). Queued messages also
    // count against `budget` (may be null: none), which this stream may always use up to `floor`.
    explicit PushStream(std::size_t max_bytes, std::shared_ptr<OutboundBudget> budget = nullptr,
                        std::size_t floor = 0);

    // The three enqueuers return true when the caller must arrange a call of next() (none is
    // pending and no operation is in flight whose completion would call it).
    bool deliver(const Message& message);
    bool logged_out(LogoutReason reason);
    // Ends the stream: with `drain`, after the queued events are written; else at once (after the
    // operation in flight, if any). The first reason wins; a later end without drain still cuts
    // the draining short.
    bool end(End why, bool drain);

    // The next operation to start; at most one is in flight. Kind::finish is returned once.
    Action next();
    // The operation returned by next() completed; `ok` false ends the stream (cancelled).
    void op_done(bool ok);

    bool finished() const;  // Kind::finish was handed out
    std::size_t queued_bytes() const;
    std::size_t queued() const;

   private:
    bool wake_locked();
    static std::size_t cost(const Event& event);

    const std::size_t max_bytes_;
    mutable std::mutex mu_;
    std::deque<Event> queue_;
    std::size_t bytes_ = 0;
    OutboundShare share_;  // the queued messages' part of the process-wide budget
    bool metadata_sent_ = false;
    bool in_flight_ = false;
    bool pump_pending_ = false;
    bool finished_ = false;
    End end_ = End::none;
    bool drain_ = false;
};

}  // namespace chat::grpc_transport
