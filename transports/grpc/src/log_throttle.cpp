// LogThrottle: one line per interval, counting the rest.
#include "log_throttle.hpp"

namespace chat::grpc_transport {

std::optional<std::uint64_t> LogThrottle::admit(Clock::time_point now) {
    std::lock_guard lock(mu_);
    if (last_ && now - *last_ < interval_) {
        ++suppressed_;
        return std::nullopt;
    }
    last_ = now;
    const std::uint64_t left_out = suppressed_;
    suppressed_ = 0;
    return left_out;
}

}  // namespace chat::grpc_transport
