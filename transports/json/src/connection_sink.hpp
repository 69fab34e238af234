// ConnectionSink: the Sink of one session on one JSON connection, the way pushes from the core
// reach the connection's strand.
//
// deliver() encodes the push once, straight into an inbox, and posts a drain to the connection's
// strand only when none is pending, so a burst of pushes costs one handler and leaves in one
// write. An inbox that outgrows the outbound limit marks the batch as overflowed (a slow
// reader). detach() (from the strand) makes it inert for good.
// Thread use: any thread; one mutex guards the inbox.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

#include "chat/sink.hpp"

namespace chat::json_transport {

class FrameConnection;

class ConnectionSink final : public Sink, public std::enable_shared_from_this<ConnectionSink> {
   public:
    struct Batch {
        bool ends_session = false;  // a logged_out event ends the batch
        bool overflow = false;      // the inbox outgrew the outbound limit: a slow reader
    };

    ConnectionSink(std::weak_ptr<FrameConnection> connection, std::size_t limit)
        : connection_(std::move(connection)), limit_(limit) {}

    void deliver(const Message& message) override;
    void logged_out(LogoutReason reason) override;
    void detach();
    // Strand: moves the queued frames to the end of `into` and re-arms the drain.
    Batch take(std::string& into);

   private:
    // After appending, with `mutex_` held: the connection to post a drain to, if one is needed.
    std::shared_ptr<FrameConnection> drain_target_locked();

    std::mutex mutex_;
    std::weak_ptr<FrameConnection> connection_;
    const std::size_t limit_;
    std::string inbox_;
    Batch batch_;
    bool drain_posted_ = false;
    bool detached_ = false;
};

}  // namespace chat::json_transport
