// How the `chat` client shows things: messages for people and for programs (JSON Lines), and
// error messages in words a person understands plus the stable code.
// Thread use: pure functions; call from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "chat/error.hpp"
#include "chat/types.hpp"

namespace chat::cli {

// Text received from the network made safe for a terminal: control characters (which could
// move the cursor or recolour the screen) are shown as `^X` or U+FFFD; invisible characters
// that reorder or hide text (bidirectional controls, zero-width characters, U+FEFF) as a
// placeholder naming them, e.g. `<U+202E>`; a newline, U+2028 or U+2029 starts a new line
// indented by `indent` spaces so a multi-line message stays readable.
std::string sanitize_for_terminal(std::string_view text, std::size_t indent = 0);

// The same for text that must stay on one line, such as a username: a newline is shown as `^J`
// and U+2028/U+2029 as placeholders, so a name cannot start what looks like another line.
std::string sanitize_line_for_terminal(std::string_view text);

// `12:03` for today (local time), `2026-11-24 12:03` for another day, or with
// `always_date` the latter form.
std::string format_time(std::int64_t sent_at_ms, bool always_date = false);

// `[12:03] alice: hi` (sanitised; the sender's name kept on one line).
std::string format_message(const Message& message, bool always_date = false);

// A JSON string literal (with quotes) of UTF-8 text. Control characters, U+2028/U+2029 and
// the characters sanitize_for_terminal shows as placeholders are written as `\uXXXX`; bytes
// that are not UTF-8 become U+FFFD, so the result is always valid JSON.
std::string json_string(std::string_view text);

// `{"id":42,"from":"alice","to":"bob","body":"hi","sent_at":1764000000000}`: the wire's shape,
// but escaped with json_string for a terminal, so it is not the JSON transport's encoder.
std::string message_json(const Message& message);

// A short explanation of an error code, e.g. "there is no user by that name".
std::string_view describe(Errc code) noexcept;

// `<server text, or the explanation when the server gave none> [code]` for people.
std::string explain(const Error& error);

// `error: <code>: <message>` for scripts (stderr).
std::string script_error_line(const Error& error);

// Why connecting to `server` ("host:port") failed, naming the server once.
std::string connect_failure(std::string_view server, const Error& error);

// Why the connection ended, for people (the code of a transport failure says nothing more).
std::string disconnect_reason(const Error& error);

// "1 message" / "3 messages".
std::string plural(std::uint64_t count, std::string_view singular, std::string_view plural_form);

}  // namespace chat::cli
