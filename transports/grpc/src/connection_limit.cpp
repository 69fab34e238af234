// ConnectionLimit: admission of gRPC connections by peer address, pruned by a live-peer query.
#include "connection_limit.hpp"

#include <unordered_set>
#include <utility>

namespace chat::grpc_transport {

ConnectionLimit::ConnectionLimit(Options options, LivePeers live)
    : options_(options), live_(std::move(live)) {}

bool ConnectionLimit::fits_locked(std::string_view address) const {
    if (options_.max != 0 && peers_.size() >= options_.max) return false;
    if (options_.per_address == 0) return true;
    const auto it = per_address_.find(address);
    return it == per_address_.end() || it->second < options_.per_address;
}

void ConnectionLimit::add_locked(std::string_view peer, std::string_view address,
                                 Clock::time_point now) {
    peers_.emplace(std::string(peer), Peer{.last_call = now, .address = std::string(address)});
    if (auto it = per_address_.find(address); it != per_address_.end()) {
        ++it->second;
    } else {
        per_address_.emplace(std::string(address), 1);
    }
}

template <class Pred>
void ConnectionLimit::erase_locked(Pred closed) {
    for (auto it = peers_.begin(); it != peers_.end();) {
        if (!closed(*it)) {
            ++it;
            continue;
        }
        if (auto count = per_address_.find(it->second.address);
            count != per_address_.end() && --count->second == 0) {
            per_address_.erase(count);
        }
        it = peers_.erase(it);
    }
}

bool ConnectionLimit::admit(std::string_view peer, std::string_view address,
                            Clock::time_point now) {
    std::lock_guard lock(mu_);
    if (auto it = peers_.find(peer); it != peers_.end()) {
        it->second.last_call = now;
        return true;
    }
    if (fits_locked(address)) {
        add_locked(peer, address, now);
        return true;
    }
    if (last_refresh_ && now - *last_refresh_ < options_.refresh_interval) return false;
    last_refresh_ = now;
    if (auto live = live_ ? live_(peer) : std::nullopt) {
        const std::unordered_set<std::string_view> open(live->begin(), live->end());
        erase_locked([&](const auto& kv) { return !open.contains(kv.first); });
    } else {
        erase_locked(
            [&](const auto& kv) { return now - kv.second.last_call > options_.silent_fallback; });
    }
    if (fits_locked(address)) {
        add_locked(peer, address, now);
        return true;
    }
    return false;
}

std::size_t ConnectionLimit::admitted() const {
    std::lock_guard lock(mu_);
    return peers_.size();
}

}  // namespace chat::grpc_transport
