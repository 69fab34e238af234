// OutboundQueue: what one JSON connection has to send, and the bounds on it.
//
// Replies and pushes queue up in one buffer while a write is in flight and leave together in the
// next one (coalescing). Pushes are bounded per connection (Limits::max_outbound_bytes: a reader
// that does not read makes them pile up); every byte, replies included, is counted in the
// connection's OutboundShare of the process-wide OutboundBudget. Frames that must wait for the
// reply being answered (pushes during a login, the logged_out event after a delete) are held
// aside until the connection takes them back. It keeps the start time of the write in flight,
// which is what the write-stall timer looks at.
//
// It does no I/O and starts no timer: the connection writes what start_write() hands it.
// Thread use: the connection's strand only.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chat/limits.hpp"
#include "chat/outbound_budget.hpp"

namespace chat::json_transport {

class OutboundQueue final {
   public:
    using Clock = std::chrono::steady_clock;

    OutboundQueue(std::shared_ptr<OutboundBudget> budget, const Limits& limits)
        : max_push_bytes_(limits.max_outbound_bytes),
          share_(std::move(budget), limits.max_outbound_floor) {}

    // Queues `frame` for the next write. Nullptr, or why the connection must be dropped as a
    // slow reader (nothing is queued then).
    const char* add_reply(std::string_view frame) { return add(frame, false); }
    const char* add_push(std::string_view frame) { return add(frame, true); }

    // Keeps `frame` aside until take_held(); it is not counted anywhere until it is queued.
    void hold(std::string frame) { held_.push_back(std::move(frame)); }
    // The held frames, oldest first; none are held afterwards.
    std::vector<std::string> take_held() { return std::move(held_); }
    void drop_held() { held_.clear(); }

    // Bytes queued and being written.
    std::size_t bytes() const noexcept { return pending_.size() + writing_.size(); }
    bool has_pending() const noexcept { return !pending_.empty(); }
    bool write_in_flight() const noexcept { return write_in_flight_; }
    // True while the write in flight has been going for `limit` or longer.
    bool stalled(Clock::time_point now, Clock::duration limit) const noexcept {
        return write_in_flight_ && now - write_started_ >= limit;
    }
    Clock::time_point write_started() const noexcept { return write_started_; }

    // Moves everything queued into the write buffer and returns it: the bytes to write, valid
    // until write_done().
    std::string_view start_write(Clock::time_point now);
    // The write in flight has ended; `ok`: all of it went out (its bytes are given back).
    void write_done(bool ok);
    // The connection closed: frees the queue and gives its bytes back. A write still in flight
    // keeps its buffer until it completes.
    void clear();

   private:
    const char* add(std::string_view frame, bool is_push);

    const std::size_t max_push_bytes_;
    std::string pending_;  // frames waiting for the next write
    std::string writing_;  // frames of the write in flight
    std::size_t pending_push_bytes_ = 0;
    std::size_t writing_push_bytes_ = 0;
    bool write_in_flight_ = false;
    Clock::time_point write_started_{};
    OutboundShare share_;  // pending_ + writing_, against the process-wide budget
    std::vector<std::string> held_;
};

}  // namespace chat::json_transport
