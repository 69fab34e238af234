// TokenTable: random bearer tokens, idle bookkeeping and per-token rate buckets.
#include "token_table.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>

namespace chat::grpc_transport {

namespace {

constexpr std::size_t kTokenBytes = 32;

bool iequals_ascii(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

}  // namespace

std::optional<std::string_view> bearer_token(std::string_view header) noexcept {
    constexpr std::string_view kScheme = "bearer";
    if (header.size() <= kScheme.size() + 1) return std::nullopt;
    if (!iequals_ascii(header.substr(0, kScheme.size()), kScheme)) return std::nullopt;
    if (header[kScheme.size()] != ' ') return std::nullopt;
    std::string_view token = header.substr(kScheme.size() + 1);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    if (token.empty()) return std::nullopt;
    return token;
}

TokenTable::TokenTable(double rate, double burst) : rate_(rate), burst_(burst) {
    // Thread-safe and idempotent; randombytes_buf needs it.
    if (sodium_init() < 0) throw std::runtime_error("libsodium initialisation failed");
}

std::string TokenTable::issue(SessionId session, Clock::time_point now) {
    std::array<unsigned char, kTokenBytes> raw{};
    std::array<char,
               sodium_base64_ENCODED_LEN(kTokenBytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING)>
        text{};
    std::string token;
    std::lock_guard lock(mu_);
    do {  // a collision of 256 random bits will not happen; the loop keeps the map honest anyway
        randombytes_buf(raw.data(), raw.size());
        sodium_bin2base64(text.data(), text.size(), raw.data(), raw.size(),
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        token = text.data();
    } while (entries_.contains(token));
    entries_.emplace(token, Entry{.session = session,
                                  .last_used = now,
                                  .streams = 0,
                                  .fetches = 0,
                                  .rate = TokenBucket(rate_, burst_, now)});
    sodium_memzero(raw.data(), raw.size());
    return token;
}

TokenTable::Lookup TokenTable::use(std::string_view token, Clock::time_point now) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(token);
    if (it == entries_.end()) return {};
    Entry& e = it->second;
    e.last_used = std::max(e.last_used, now);
    if (!e.rate.take(now)) return {Use::rate_limited, e.session};
    return {Use::ok, e.session};
}

std::optional<SessionId> TokenTable::revoke(std::string_view token) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(token);
    if (it == entries_.end()) return std::nullopt;
    SessionId session = it->second.session;
    entries_.erase(it);
    return session;
}

bool TokenTable::stream_opened(std::string_view token, std::size_t max) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(token);
    if (it == entries_.end() || (max != 0 && it->second.streams >= max)) return false;
    ++it->second.streams;
    return true;
}

bool TokenTable::fetch_started(std::string_view token, std::size_t max) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(token);
    if (it == entries_.end()) return true;  // revoked meanwhile: the core answers not_logged_in
    if (max != 0 && it->second.fetches >= max) return false;
    ++it->second.fetches;
    return true;
}

void TokenTable::fetch_finished(std::string_view token) {
    std::lock_guard lock(mu_);
    if (auto it = entries_.find(token); it != entries_.end() && it->second.fetches > 0) {
        --it->second.fetches;
    }
}

void TokenTable::stream_closed(std::string_view token, Clock::time_point now) {
    std::lock_guard lock(mu_);
    if (auto it = entries_.find(token); it != entries_.end()) {
        if (it->second.streams > 0) --it->second.streams;
        it->second.last_used = std::max(it->second.last_used, now);
    }
}

std::vector<SessionId> TokenTable::expire_idle(Clock::duration max_idle, Clock::time_point now) {
    std::vector<SessionId> expired;
    std::lock_guard lock(mu_);
    std::erase_if(entries_, [&](const auto& kv) {
        const Entry& e = kv.second;
        if (e.streams > 0 || now - e.last_used <= max_idle) return false;
        expired.push_back(e.session);
        return true;
    });
    return expired;
}

std::vector<SessionId> TokenTable::clear() {
    std::vector<SessionId> sessions;
    std::lock_guard lock(mu_);
    sessions.reserve(entries_.size());
    for (const auto& [token, e] : entries_) sessions.push_back(e.session);
    entries_.clear();
    return sessions;
}

std::size_t TokenTable::size() const {
    std::lock_guard lock(mu_);
    return entries_.size();
}

}  // namespace chat::grpc_transport
