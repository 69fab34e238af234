// PeerRate: a request-rate token bucket per peer address, for the calls that carry no session
// token (Hello, CreateAccount, Login and calls whose token is not valid), which TokenTable's
// per-token buckets cannot count. Buckets that have filled up again are forgotten now and then,
// so addresses that went quiet take no memory. Free of gRPC so tests drive it alone.
// Thread use: safe from any number of threads (one internal mutex).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "string_hash.hpp"

namespace chat::grpc_transport {

class PeerRate final {
   public:
    using Clock = std::chrono::steady_clock;

    // `rate` calls per second with bursts up to `burst` per address; rate 0 turns it off.
    PeerRate(double rate, double burst);

    // Takes one call from `address`'s bucket; false when it is empty.
    bool take(std::string_view address, Clock::time_point now = Clock::now());

    std::size_t tracked() const;  // addresses with a bucket

   private:
    struct Bucket {
        double budget = 0;
        Clock::time_point refilled;
    };

    void prune_locked(Clock::time_point now);

    const double rate_;
    const double burst_;
    mutable std::mutex mu_;
    std::unordered_map<std::string, Bucket, StringHash, std::equal_to<>> buckets_;
    std::size_t since_prune_ = 0;
};

}  // namespace chat::grpc_transport
