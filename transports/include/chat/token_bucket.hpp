// TokenBucket: the request-rate limit both transports apply (docs/protocol.md, "Rate limit"):
// `rate` requests per second with bursts up to `burst`, refilled lazily from the time of use.
// Thread use: a plain value; the owner guards it.
#pragma once

#include <algorithm>
#include <chrono>

namespace chat {

class TokenBucket final {
   public:
    using Clock = std::chrono::steady_clock;

    // rate 0 (or below) turns the limit off. The bucket starts full.
    TokenBucket(double rate, double burst, Clock::time_point now = Clock::now())
        : rate_(rate), burst_(std::max(burst, 1.0)), tokens_(burst_), refilled_(now) {}

    // Takes one request's token; false when none is left (the request is refused).
    bool take(Clock::time_point now = Clock::now()) {
        if (rate_ <= 0) return true;
        if (now > refilled_) {
            const double elapsed = std::chrono::duration<double>(now - refilled_).count();
            tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
            refilled_ = now;
        }
        if (tokens_ < 1.0) return false;
        tokens_ -= 1.0;
        return true;
    }

   private:
    double rate_;
    double burst_;
    double tokens_;
    Clock::time_point refilled_;
};

}  // namespace chat
