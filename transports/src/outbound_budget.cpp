// The process-wide outbound budget (see outbound_budget.hpp).
#include "chat/outbound_budget.hpp"

namespace chat {

bool OutboundBudget::try_take(std::size_t bytes) noexcept {
    if (limit_ == 0) {
        take(bytes);
        return true;
    }
    std::size_t now = used_.load(std::memory_order_relaxed);
    do {
        if (bytes > limit_ || now > limit_ - bytes) return false;
    } while (!used_.compare_exchange_weak(now, now + bytes, std::memory_order_relaxed));
    return true;
}

bool OutboundShare::grow(std::size_t bytes) noexcept {
    if (budget_) {
        if (held_ + bytes <= floor_) {
            budget_->take(bytes);  // within the floor a connection may always go on
        } else if (!budget_->try_take(bytes)) {
            return false;
        }
    }
    held_ += bytes;
    return true;
}

void OutboundShare::shrink(std::size_t bytes) noexcept {
    if (bytes > held_) bytes = held_;
    held_ -= bytes;
    if (budget_) budget_->give_back(bytes);
}

}  // namespace chat
