// ConnectionLimit: admission of gRPC connections by peer address, pruned by a live-peer query.
#include "connection_limit.hpp"

#include <unordered_set>
#include <utility>

namespace chat::grpc_transport {

ConnectionLimit::ConnectionLimit(Options options, LivePeers live)
    : options_(options), live_(std::move(live)) {}

bool ConnectionLimit::admit(std::string_view peer, Clock::time_point now) {
    std::lock_guard lock(mu_);
    if (auto it = peers_.find(peer); it != peers_.end()) {
        it->second = now;
        return true;
    }
    if (options_.max == 0 || peers_.size() < options_.max) {
        peers_.emplace(std::string(peer), now);
        return true;
    }
    if (last_refresh_ && now - *last_refresh_ < options_.refresh_interval) return false;
    last_refresh_ = now;
    if (auto live = live_ ? live_(peer) : std::nullopt) {
        const std::unordered_set<std::string_view> open(live->begin(), live->end());
        std::erase_if(peers_, [&](const auto& kv) { return !open.contains(kv.first); });
    } else {
        std::erase_if(peers_,
                      [&](const auto& kv) { return now - kv.second > options_.silent_fallback; });
    }
    if (peers_.size() < options_.max) {
        peers_.emplace(std::string(peer), now);
        return true;
    }
    return false;
}

std::size_t ConnectionLimit::admitted() const {
    std::lock_guard lock(mu_);
    return peers_.size();
}

}  // namespace chat::grpc_transport
