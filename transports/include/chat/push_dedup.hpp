// PushDedup: remembers the ids of messages already handed to the application, so a client that
// sees the same message twice (a push and then a fetch, or a re-push) hands it over once.
// Bounded: it forgets the oldest ids beyond `capacity`.
// Thread use: not thread-safe. chat::Delivery keeps one per client on its callback thread; the
// interactive app keeps one (under its lock) for what it has shown, fetched messages included.
#pragma once

#include <cstddef>
#include <deque>
#include <unordered_set>

#include "chat/types.hpp"

namespace chat {

class PushDedup final {
   public:
    explicit PushDedup(std::size_t capacity = 65536) : capacity_(capacity) {}

    // True the first time `id` is seen (and records it); false for a repeat.
    bool first_time(MessageId id) {
        if (!seen_.insert(id).second) return false;
        order_.push_back(id);
        if (order_.size() > capacity_) {
            seen_.erase(order_.front());
            order_.pop_front();
        }
        return true;
    }

   private:
    std::size_t capacity_;
    std::unordered_set<MessageId> seen_;
    std::deque<MessageId> order_;
};

}  // namespace chat
