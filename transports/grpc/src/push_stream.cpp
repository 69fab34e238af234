// PushStream: the bounded push queue and operation sequencing of one Subscribe stream.
#include "push_stream.hpp"

#include <utility>

namespace chat::grpc_transport {

namespace {
// Per-event framing overhead (protobuf tags, lengths, the id and timestamp, HTTP/2 frame).
constexpr std::size_t kEventOverhead = 64;
}  // namespace

PushStream::PushStream(std::size_t max_bytes, std::shared_ptr<OutboundBudget> budget,
                       std::size_t floor)
    : max_bytes_(max_bytes), share_(std::move(budget), floor) {}

std::size_t PushStream::cost(const Event& event) {
    if (const auto* m = std::get_if<Message>(&event)) {
        return kEventOverhead + m->from.size() + m->to.size() + m->body.size();
    }
    return kEventOverhead;
}

bool PushStream::wake_locked() {
    if (finished_ || in_flight_ || pump_pending_) return false;
    pump_pending_ = true;
    return true;
}

bool PushStream::deliver(const Message& message) {
    std::lock_guard lock(mu_);
    if (end_ != End::none) return false;  // the message stays queued in the store
    Event event = message;
    const std::size_t c = cost(event);
    // The LoggedOut event is small and last; only messages count against the shared budget.
    if (bytes_ + c > max_bytes_ || !share_.grow(c)) {
        end_ = End::overflow;
        drain_ = false;
        return wake_locked();
    }
    bytes_ += c;
    queue_.push_back(std::move(event));
    return wake_locked();
}

bool PushStream::logged_out(LogoutReason reason) {
    std::lock_guard lock(mu_);
    if (end_ != End::none) return false;
    queue_.emplace_back(reason);
    bytes_ += kEventOverhead;
    end_ = End::logged_out;
    drain_ = true;
    return wake_locked();
}

bool PushStream::end(End why, bool drain) {
    std::lock_guard lock(mu_);
    if (finished_) return false;
    if (end_ == End::none) {
        end_ = why;
        drain_ = drain;
    } else if (!drain) {
        drain_ = false;
    }
    return wake_locked();
}

PushStream::Action PushStream::next() {
    std::lock_guard lock(mu_);
    pump_pending_ = false;
    if (finished_ || in_flight_) return {};
    const bool ending = end_ != End::none;
    if (ending && (!drain_ || queue_.empty())) {
        finished_ = true;
        queue_.clear();
        bytes_ = 0;
        share_.clear();
        return Action{.kind = Action::Kind::finish, .event = {}, .end = end_};
    }
    if (!metadata_sent_) {
        metadata_sent_ = true;
        in_flight_ = true;
        return Action{.kind = Action::Kind::send_metadata, .event = {}, .end = End::none};
    }
    if (!queue_.empty()) {
        Action a{.kind = Action::Kind::write, .event = std::move(queue_.front()), .end = End::none};
        queue_.pop_front();
        const std::size_t c = cost(a.event);
        bytes_ -= c;
        if (std::holds_alternative<Message>(a.event)) share_.shrink(c);
        in_flight_ = true;
        return a;
    }
    return {};
}

void PushStream::op_done(bool ok) {
    std::lock_guard lock(mu_);
    in_flight_ = false;
    if (!ok && !finished_) {
        if (end_ == End::none) end_ = End::cancelled;
        drain_ = false;
    }
}

bool PushStream::finished() const {
    std::lock_guard lock(mu_);
    return finished_;
}

std::size_t PushStream::queued_bytes() const {
    std::lock_guard lock(mu_);
    return bytes_;
}

std::size_t PushStream::queued() const {
    std::lock_guard lock(mu_);
    return queue_.size();
}

}  // namespace chat::grpc_transport
