// Plain value types of the chat domain: messages and the results of the operations.
// Thread use: plain values; safe to copy between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chat {

using MessageId = std::uint64_t;
using AccountId = std::int64_t;
using SessionId = std::uint64_t;

// A stored message. `from` and `to` are canonical usernames (as first registered).
struct Message {
    MessageId id = 0;
    std::string from;
    std::string to;
    std::string body;
    std::int64_t sent_at = 0;  // milliseconds since the Unix epoch, UTC, set by the server

    friend bool operator==(const Message&, const Message&) = default;
};

struct HelloInfo {
    int version = 1;
    std::string server;  // e.g. "chatd/0.1.0"
    std::size_t max_frame = 0;
};

struct LoginResult {
    std::string username;  // canonical
    std::uint64_t unread = 0;
    SessionId session = 0;  // core handle of the new session; never sent on the wire
};

struct FetchResult {
    std::vector<Message> messages;  // oldest first
    std::uint64_t remaining = 0;    // unacknowledged messages not in `messages`
};

struct AccountPage {
    std::vector<std::string> accounts;  // canonical names, ascending by lower-cased name
    std::optional<std::string> next;    // opaque cursor; nullopt exactly when nothing more matches
};

// Why a session ended from the server's side.
enum class LogoutReason { account_deleted };
inline const char* to_string(LogoutReason r) noexcept {
    switch (r) {
        case LogoutReason::account_deleted:
            return "account_deleted";
    }
    return "unknown";
}
// The reason named by `text` (its to_string form), or nullopt for a name this version does not
// know (a newer server may send more).
inline std::optional<LogoutReason> logout_reason_from_string(std::string_view text) noexcept {
    if (text == to_string(LogoutReason::account_deleted)) return LogoutReason::account_deleted;
    return std::nullopt;
}

}  // namespace chat
