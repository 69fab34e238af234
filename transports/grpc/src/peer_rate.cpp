// PeerRate: per-address token buckets for calls without a session token.
#include "peer_rate.hpp"

#include <algorithm>

namespace chat::grpc_transport {

namespace {
// Full buckets are looked for once this many calls went by since the last look.
constexpr std::size_t kPruneEvery = 1024;
}  // namespace

PeerRate::PeerRate(double rate, double burst) : rate_(rate), burst_(std::max(burst, 1.0)) {}

bool PeerRate::take(std::string_view address, Clock::time_point now) {
    if (rate_ <= 0) return true;
    std::lock_guard lock(mu_);
    if (++since_prune_ >= kPruneEvery) prune_locked(now);
    auto it = buckets_.find(address);
    if (it == buckets_.end()) {
        it =
            buckets_.emplace(std::string(address), Bucket{.budget = burst_, .refilled = now}).first;
    }
    Bucket& b = it->second;
    const double elapsed = std::chrono::duration<double>(now - b.refilled).count();
    if (elapsed > 0) {
        b.budget = std::min(burst_, b.budget + elapsed * rate_);
        b.refilled = now;
    }
    if (b.budget < 1.0) return false;
    b.budget -= 1.0;
    return true;
}

void PeerRate::prune_locked(Clock::time_point now) {
    since_prune_ = 0;
    std::erase_if(buckets_, [&](const auto& kv) {
        const double elapsed = std::chrono::duration<double>(now - kv.second.refilled).count();
        return kv.second.budget + elapsed * rate_ >= burst_;
    });
}

std::size_t PeerRate::tracked() const {
    std::lock_guard lock(mu_);
    return buckets_.size();
}

}  // namespace chat::grpc_transport
