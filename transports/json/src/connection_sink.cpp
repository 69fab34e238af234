// ConnectionSink: how the core's pushes reach a JSON connection (see connection_sink.hpp).
#include "connection_sink.hpp"

#include "codec.hpp"
#include "frame_connection.hpp"

namespace chat::json_transport {

void ConnectionSink::deliver(const Message& message) {
    std::shared_ptr<FrameConnection> target;
    {
        std::lock_guard lock(mutex_);
        if (detached_ || batch_.overflow) return;
        append_message_event_frame(inbox_, message);
        target = drain_target_locked();
    }
    if (target) target->post_sink_drain(shared_from_this());
}

void ConnectionSink::logged_out(LogoutReason reason) {
    std::shared_ptr<FrameConnection> target;
    {
        std::lock_guard lock(mutex_);
        if (detached_) return;
        inbox_.append(logged_out_event_frame(reason));
        batch_.ends_session = true;
        target = drain_target_locked();
    }
    if (target) target->post_sink_drain(shared_from_this());
}

std::shared_ptr<FrameConnection> ConnectionSink::drain_target_locked() {
    if (inbox_.size() > limit_) {
        // Nobody reads this connection; what piled up is dropped with it (and stays queued).
        batch_.overflow = true;
        std::string().swap(inbox_);
    }
    if (drain_posted_) return nullptr;
    auto connection = connection_.lock();
    if (!connection) {
        detached_ = true;
        std::string().swap(inbox_);
        return nullptr;
    }
    drain_posted_ = true;
    return connection;
}

ConnectionSink::Batch ConnectionSink::take(std::string& into) {
    std::lock_guard lock(mutex_);
    drain_posted_ = false;
    if (into.empty()) {
        into.swap(inbox_);  // the common case: no copy, and the inbox gets the spare buffer
    } else {
        into.append(inbox_);
    }
    inbox_.clear();
    Batch batch = batch_;
    batch_.ends_session = false;
    return batch;
}

void ConnectionSink::detach() {
    std::lock_guard lock(mutex_);
    detached_ = true;
    connection_.reset();
    std::string().swap(inbox_);
}

}  // namespace chat::json_transport
