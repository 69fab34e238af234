// LoginThrottle: slows password guessing against one account. After `free_failures` failed
// logins in a row, the account refuses further attempts for a lockout that doubles with each
// further failure (up to a maximum); a successful login clears it. Private to libchatcore.
// Thread use: safe from any thread (one internal mutex).
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace chat::detail {

class LoginThrottle final {
   public:
    using Clock = std::chrono::steady_clock;

    LoginThrottle(unsigned free_failures, Clock::duration base, Clock::duration max)
        : free_failures_(free_failures), base_(base), max_(max) {}

    // How long `name_lower` must still wait before another attempt; zero when it may try now.
    Clock::duration wait_for(const std::string& name_lower, Clock::time_point now);
    // Records a failed attempt; returns the lockout it starts (zero when none).
    Clock::duration failed(const std::string& name_lower, Clock::time_point now);
    void succeeded(const std::string& name_lower);

   private:
    struct Entry {
        unsigned failures = 0;
        Clock::time_point locked_until{};
    };
    void prune(Clock::time_point now);  // caller holds mutex_

    unsigned free_failures_;
    Clock::duration base_;
    Clock::duration max_;
    std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
};

}  // namespace chat::detail
