// TokenTable: the bearer tokens of gRPC sessions. Maps each token to its core SessionId and keeps
// what the gRPC transport needs per session: when it was last used (idle expiry), how many
// Subscribe streams it holds open (a subscribed session never idles out) and a request-rate
// bucket. Free of gRPC so the state logic can be tested (and run under TSan) on its own.
// Thread use: safe from any number of threads (one internal mutex).
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "chat/token_bucket.hpp"
#include "chat/types.hpp"
#include "string_hash.hpp"

namespace chat::grpc_transport {

// The token of an `authorization` metadata value "Bearer <token>" (scheme case-insensitive);
// nullopt for anything else.
std::optional<std::string_view> bearer_token(std::string_view header) noexcept;

class TokenTable final {
   public:
    using Clock = std::chrono::steady_clock;

    enum class Use { ok, unknown, rate_limited };
    struct Lookup {
        Use use = Use::unknown;
        SessionId session = 0;
    };

    // `rate` requests per second with bursts up to `burst` per token; rate 0 turns it off.
    TokenTable(double rate, double burst);

    // A fresh random token for `session`: 256 bits from libsodium, URL-safe base64 without
    // padding (43 characters).
    std::string issue(SessionId session, Clock::time_point now = Clock::now());

    // Looks `token` up, marks it used and takes one request from its rate budget.
    Lookup use(std::string_view token, Clock::time_point now = Clock::now());

    // Forgets `token`; returns its session when it was known.
    std::optional<SessionId> revoke(std::string_view token);

    // A Subscribe stream opened or closed on `token`. Closing counts as a use (the idle clock
    // starts again when the last stream ends). Opening is refused (false, nothing counted) when
    // the token is unknown or already holds `max` streams (0: no bound).
    bool stream_opened(std::string_view token, std::size_t max = 0);
    void stream_closed(std::string_view token, Clock::time_point now = Clock::now());

    // A Fetch on `token` starts (its reply is held until gRPC has written it) or is done.
    // Starting is refused (false, nothing counted) when `max` are in flight (0: no bound).
    bool fetch_started(std::string_view token, std::size_t max);
    void fetch_finished(std::string_view token);

    // Forgets the tokens unused for longer than `max_idle` that have no open stream; returns
    // their sessions.
    std::vector<SessionId> expire_idle(Clock::duration max_idle,
                                       Clock::time_point now = Clock::now());

    // Forgets every token; returns their sessions.
    std::vector<SessionId> clear();

    std::size_t size() const;

   private:
    struct Entry {
        SessionId session = 0;
        Clock::time_point last_used;
        std::size_t streams = 0;
        std::size_t fetches = 0;  // Fetch replies not yet written
        TokenBucket rate;         // this session's request-rate limit
    };

    const double rate_;
    const double burst_;
    mutable std::mutex mu_;
    std::unordered_map<std::string, Entry, StringHash, std::equal_to<>> entries_;
};

}  // namespace chat::grpc_transport
