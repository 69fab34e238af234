// Exponential lockout after repeated failed logins.
#include "login_throttle.hpp"

#include <algorithm>

namespace chat::detail {
namespace {
constexpr std::size_t kPruneAbove = 100000;  // bounds memory under a spray of names
}

LoginThrottle::Clock::duration LoginThrottle::wait_for(const std::string& name_lower,
                                                       Clock::time_point now) {
    if (free_failures_ == 0) return Clock::duration::zero();
    std::lock_guard lock(mutex_);
    auto it = entries_.find(name_lower);
    if (it == entries_.end() || it->second.locked_until <= now) return Clock::duration::zero();
    return it->second.locked_until - now;
}

LoginThrottle::Clock::duration LoginThrottle::failed(const std::string& name_lower,
                                                     Clock::time_point now) {
    if (free_failures_ == 0) return Clock::duration::zero();
    std::lock_guard lock(mutex_);
    if (entries_.size() > kPruneAbove) prune(now);
    Entry& e = entries_[name_lower];
    ++e.failures;
    if (e.failures < free_failures_) return Clock::duration::zero();
    // base, 2*base, 4*base, ... capped at max.
    const unsigned doublings = std::min(e.failures - free_failures_, 20u);
    const auto lock_for = std::min<Clock::duration>(base_ * (1LL << doublings), max_);
    e.locked_until = now + lock_for;
    return lock_for;
}

void LoginThrottle::succeeded(const std::string& name_lower) {
    if (free_failures_ == 0) return;
    std::lock_guard lock(mutex_);
    entries_.erase(name_lower);
}

void LoginThrottle::prune(Clock::time_point now) {
    std::erase_if(entries_,
                  [now, this](const auto& kv) { return kv.second.locked_until + max_ < now; });
}

}  // namespace chat::detail
