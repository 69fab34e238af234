// ConnectionLimit: Limits::max_connections for the gRPC transport. gRPC does not tell a service
// when a connection opens or closes, so a connection (named by its peer address) is admitted at
// its first call while fewer than the maximum are admitted; once full, the admitted peers are
// checked against the connections that are really open (a LivePeers query; the server asks
// gRPC's channelz) and the closed ones give their slots up. Free of gRPC so tests drive it alone.
// Thread use: safe from any number of threads (one internal mutex; the query runs under it).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "string_hash.hpp"

namespace chat::grpc_transport {

class ConnectionLimit final {
   public:
    using Clock = std::chrono::steady_clock;
    // The peers of every open connection of this server, found with the help of `caller` (whose
    // connection is open for sure); nullopt when they cannot be found out.
    using LivePeers =
        std::function<std::optional<std::vector<std::string>>(std::string_view caller)>;

    struct Options {
        std::size_t max = 10000;      // 0: no limit
        std::size_t per_address = 0;  // admitted connections from one address; 0: no limit
        // At most one LivePeers query per interval; a new connection meanwhile is refused.
        Clock::duration refresh_interval = std::chrono::milliseconds(50);
        // Without LivePeers answers, a peer silent this long is taken for closed.
        Clock::duration silent_fallback = std::chrono::seconds(30);
    };

    ConnectionLimit(Options options, LivePeers live);

    // True when a call from `peer` (a connection from `address`) may be served.
    bool admit(std::string_view peer, std::string_view address,
               Clock::time_point now = Clock::now());
    // The same with every peer its own address.
    bool admit(std::string_view peer, Clock::time_point now = Clock::now()) {
        return admit(peer, peer, now);
    }

    std::size_t admitted() const;

   private:
    struct Peer {
        Clock::time_point last_call;
        std::string address;
    };
    using PeerMap = std::unordered_map<std::string, Peer, StringHash, std::equal_to<>>;

    bool fits_locked(std::string_view address) const;
    void add_locked(std::string_view peer, std::string_view address, Clock::time_point now);
    template <class Pred>
    void erase_locked(Pred closed);

    const Options options_;
    const LivePeers live_;
    mutable std::mutex mu_;
    PeerMap peers_;
    std::unordered_map<std::string, std::size_t, StringHash, std::equal_to<>> per_address_;
    std::optional<Clock::time_point> last_refresh_;
};

}  // namespace chat::grpc_transport
