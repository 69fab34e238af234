// ServerCore: the state the JSON server shares with its connections (see server_core.hpp).
#include "server_core.hpp"

namespace chat::json_transport {

void ServerCore::begin_inflight() {
    std::lock_guard lock(mutex);
    ++inflight;
}

void ServerCore::end_inflight() {
    // Notify under the lock: the waiter may destroy this object as soon as it can re-lock.
    std::lock_guard lock(mutex);
    --inflight;
    changed.notify_all();
}

void ServerCore::unregister(std::uint64_t id, bool counted, const std::string& address) {
    std::lock_guard lock(mutex);
    connections.erase(id);
    if (counted) {
        --live;
        if (auto it = per_address.find(address); it != per_address.end() && --it->second == 0) {
            per_address.erase(it);
        }
    }
    changed.notify_all();
}

}  // namespace chat::json_transport
