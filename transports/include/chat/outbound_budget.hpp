// OutboundBudget: one process-wide bound on the bytes waiting to go out (replies and pushes, on
// every connection of every transport that shares it), and OutboundShare, one connection's part
// of it. When the budget is spent, the connection that wants to add more while it already holds
// more than a small floor is the one to drop (a slow reader): a connection that keeps up holds
// little and is never the one refused, so a few non-reading clients cannot take the server's
// memory and cannot push out the others either.
// Thread use: OutboundBudget from any thread (atomics); an OutboundShare from its owner only.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>

namespace chat {

class OutboundBudget final {
   public:
    explicit OutboundBudget(std::size_t limit) : limit_(limit) {}  // 0: no bound

    // Counts `bytes` more unless that would pass the limit; false (nothing counted) then.
    bool try_take(std::size_t bytes) noexcept;
    // Counts `bytes` whatever the limit (a connection within its floor).
    void take(std::size_t bytes) noexcept { used_.fetch_add(bytes, std::memory_order_relaxed); }
    void give_back(std::size_t bytes) noexcept {
        used_.fetch_sub(bytes, std::memory_order_relaxed);
    }

    std::size_t used() const noexcept { return used_.load(std::memory_order_relaxed); }
    std::size_t limit() const noexcept { return limit_; }

   private:
    const std::size_t limit_;
    std::atomic<std::size_t> used_{0};
};

class OutboundShare final {
   public:
    // `budget` may be null (no process-wide bound). A share holding at most `floor` bytes may
    // always grow, so every connection can make progress.
    OutboundShare(std::shared_ptr<OutboundBudget> budget, std::size_t floor)
        : budget_(std::move(budget)), floor_(floor) {}
    ~OutboundShare() { clear(); }
    OutboundShare(const OutboundShare&) = delete;
    OutboundShare& operator=(const OutboundShare&) = delete;

    // Adds `bytes` to what this connection holds. False when the budget is spent and this
    // connection would hold more than the floor: nothing is counted, drop the connection.
    bool grow(std::size_t bytes) noexcept;
    void shrink(std::size_t bytes) noexcept;
    void clear() noexcept { shrink(held_); }
    std::size_t held() const noexcept { return held_; }

   private:
    std::shared_ptr<OutboundBudget> budget_;
    const std::size_t floor_;
    std::size_t held_ = 0;
};

}  // namespace chat
