// OutboundQueue: what one JSON connection has to send, and the bounds on it (see
// outbound_queue.hpp).
#include "outbound_queue.hpp"

#include <algorithm>

namespace chat::json_transport {

namespace {

// Buffers that grew for one large reply are released afterwards.
constexpr std::size_t kKeepWriteCapacity = 64 * 1024;
// What a fresh pending buffer reserves: a few replies or pushes.
constexpr std::size_t kStartCapacity = 2048;

void trim(std::string& buffer) {
    if (buffer.capacity() > kKeepWriteCapacity) {
        std::string().swap(buffer);
    } else {
        buffer.clear();
    }
}

}  // namespace

const char* OutboundQueue::add(std::string_view frame, bool is_push) {
    if (is_push) {
        // Pushes are what a reader that does not read makes pile up; replies cannot, because no
        // request is answered while the outbound buffer is over the limit.
        if (pending_push_bytes_ + writing_push_bytes_ + frame.size() > max_push_bytes_) {
            return "outbound queue full";
        }
        pending_push_bytes_ += frame.size();
    }
    // Replies and pushes alike count against the process-wide budget.
    if (!share_.grow(frame.size())) return "outbound memory budget spent";
    // A buffer released when the connection went quiet starts again at a useful size, rather
    // than growing by doubling through one busy write cycle.
    if (pending_.capacity() < kStartCapacity)
        pending_.reserve(std::max(kStartCapacity, frame.size()));
    pending_.append(frame);
    return nullptr;
}

std::string_view OutboundQueue::start_write(Clock::time_point now) {
    writing_.swap(pending_);
    pending_.clear();
    writing_push_bytes_ = pending_push_bytes_;
    pending_push_bytes_ = 0;
    write_in_flight_ = true;
    write_started_ = now;
    return writing_;
}

void OutboundQueue::write_done(bool ok) {
    write_in_flight_ = false;
    if (!ok) return;  // the connection closes: clear() gives everything back
    share_.shrink(writing_.size());
    writing_push_bytes_ = 0;
    if (pending_.empty()) {
        // Nothing more to send: the connection may stay quiet for long, and keeps no buffer.
        std::string().swap(writing_);
        std::string().swap(pending_);
    } else {
        trim(writing_);
    }
}

void OutboundQueue::clear() {
    held_.clear();
    std::string().swap(pending_);
    pending_push_bytes_ = 0;
    share_.clear();
}

}  // namespace chat::json_transport
