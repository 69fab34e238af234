// LogThrottle: at most one log line per interval for a kind of event that can come in floods
// (refused calls), with the count of the lines left out in between.
// Thread use: safe from any number of threads (one internal mutex).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

namespace chat::grpc_transport {

class LogThrottle final {
   public:
    using Clock = std::chrono::steady_clock;

    explicit LogThrottle(Clock::duration interval) : interval_(interval) {}

    // nullopt: leave this line out. Else write it, telling how many were left out since the
    // last line written.
    std::optional<std::uint64_t> admit(Clock::time_point now = Clock::now());

   private:
    const Clock::duration interval_;
    std::mutex mu_;
    std::optional<Clock::time_point> last_;
    std::uint64_t suppressed_ = 0;
};

}  // namespace chat::grpc_transport
