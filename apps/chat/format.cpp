// Formatting of messages, JSON Lines output and error messages for the client.
#include "format.hpp"

#include <cstdio>
#include <ctime>

#include "utf8.hpp"

namespace chat::cli {

namespace {

// Characters that are invisible themselves but change how the text around them is shown:
// bidirectional marks, embeddings, overrides and isolates (which can make `evil.exe` read as
// `exe.live` or move a sender's words into someone else's name), zero-width spaces and joiners,
// invisible operators and the byte order mark (which hide text or make two strings that differ
// look the same).
bool is_hidden_format(char32_t cp) noexcept {
    return cp == 0x061C || (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2060 && cp <= 0x206F) || cp == 0xFEFF;
}

bool is_line_separator(char32_t cp) noexcept { return cp == 0x2028 || cp == 0x2029; }

// `<U+202E>`: names the character without letting it act.
void append_placeholder(std::string& out, char32_t cp) {
    char buf[16];
    const int n = std::snprintf(buf, sizeof buf, "<U+%04X>", static_cast<unsigned>(cp));
    out.append(buf, static_cast<std::size_t>(n));
}

void append_json_escape(std::string& out, char32_t cp) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
    out += buf;
}

// What sanitize_for_terminal and sanitize_line_for_terminal share; `lines` keeps line breaks.
std::string sanitize(std::string_view text, bool lines, std::size_t indent) {
    std::string out;
    out.reserve(text.size());
    std::size_t pos = 0;
    while (pos < text.size()) {
        const char32_t cp = decode_utf8(text, pos);
        if (lines && (cp == U'\n' || is_line_separator(cp))) {
            out += '\n';
            out.append(indent, ' ');
        } else if (is_line_separator(cp)) {
            append_placeholder(out, cp);
        } else if (cp == U'\t') {
            out += ' ';
        } else if (cp < 0x20) {
            out += '^';
            out += static_cast<char>(cp + 0x40);
        } else if (cp == 0x7F) {
            out += "^?";
        } else if (cp >= 0x80 && cp < 0xA0) {
            // C1 controls: some terminals act on them (0x9B starts an escape sequence).
            append_utf8(out, kReplacementChar);
        } else if (is_hidden_format(cp)) {
            append_placeholder(out, cp);
        } else {
            append_utf8(out, cp);
        }
    }
    return out;
}

}  // namespace

std::string sanitize_for_terminal(std::string_view text, std::size_t indent) {
    return sanitize(text, true, indent);
}

std::string sanitize_line_for_terminal(std::string_view text) { return sanitize(text, false, 0); }

std::string format_time(std::int64_t sent_at_ms, bool always_date) {
    const std::time_t secs = static_cast<std::time_t>(sent_at_ms / 1000);
    const std::time_t now = std::time(nullptr);
    std::tm when{};
    std::tm today{};
    localtime_r(&secs, &when);
    localtime_r(&now, &today);
    const bool same_day = when.tm_year == today.tm_year && when.tm_yday == today.tm_yday;
    char buf[32];
    const char* fmt = (same_day && !always_date) ? "%H:%M" : "%Y-%m-%d %H:%M";
    const std::size_t n = std::strftime(buf, sizeof buf, fmt, &when);
    return std::string(buf, n);
}

std::string format_message(const Message& message, bool always_date) {
    std::string out = "[" + format_time(message.sent_at, always_date) + "] ";
    out += sanitize_line_for_terminal(message.from);
    out += ": ";
    // Continuation lines start under the first character of the body.
    out += sanitize_for_terminal(message.body, display_width(out));
    return out;
}

std::string json_string(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 2);
    out += '"';
    std::size_t pos = 0;
    while (pos < text.size()) {
        const char32_t cp = decode_utf8(text, pos);
        switch (cp) {
            case U'"':
                out += "\\\"";
                break;
            case U'\\':
                out += "\\\\";
                break;
            case U'\n':
                out += "\\n";
                break;
            case U'\r':
                out += "\\r";
                break;
            case U'\t':
                out += "\\t";
                break;
            case U'\b':
                out += "\\b";
                break;
            case U'\f':
                out += "\\f";
                break;
            default:
                // Every control character, the separators JavaScript treats as line ends, and
                // the invisible formatting characters are escaped: the value is the same to a
                // JSON parser, and the raw line is safe to show on a terminal.
                if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || is_line_separator(cp) ||
                    is_hidden_format(cp)) {
                    append_json_escape(out, cp);
                } else {
                    append_utf8(out, cp);
                }
        }
    }
    out += '"';
    return out;
}

std::string message_json(const Message& message) {
    std::string out = "{\"id\":" + std::to_string(message.id);
    out += ",\"from\":" + json_string(message.from);
    out += ",\"to\":" + json_string(message.to);
    out += ",\"body\":" + json_string(message.body);
    out += ",\"sent_at\":" + std::to_string(message.sent_at);
    out += '}';
    return out;
}

std::string_view describe(Errc code) noexcept {
    switch (code) {
        case Errc::bad_request:
            return "the server did not understand the request";
        case Errc::unknown_op:
            return "the server does not know this operation";
        case Errc::unsupported_version:
            return "the server speaks another protocol version";
        case Errc::invalid_username:
            return "a username is 1 to 32 letters, digits, '_', '.' or '-'";
        case Errc::invalid_password:
            return "a password is 1 to 256 bytes of text";
        case Errc::invalid_message:
            return "a message is 1 to 16384 bytes of UTF-8 text";
        case Errc::user_exists:
            return "that username is already taken";
        case Errc::no_such_user:
            return "there is no user by that name";
        case Errc::bad_credentials:
            return "wrong username or password";
        case Errc::not_logged_in:
            return "you are not logged in";
        case Errc::already_logged_in:
            return "this connection is already logged in";
        case Errc::frame_too_large:
            return "the request is too large for the server";
        case Errc::rate_limited:
            return "too many requests at once; slow down";
        case Errc::server_busy:
            return "the server is busy; try again later";
        case Errc::internal:
            return "the server or the connection failed";
    }
    return "unknown error";
}

std::string explain(const Error& error) {
    std::string out(error.message.empty() ? describe(error.code) : error.message);
    out += " [";
    out += to_string(error.code);
    out += ']';
    return sanitize_for_terminal(out);
}

std::string script_error_line(const Error& error) {
    std::string out = "error: ";
    out += to_string(error.code);
    out += ": ";
    out += error.message.empty() ? std::string(describe(error.code)) : error.message;
    return sanitize_for_terminal(out);
}

std::string connect_failure(std::string_view server, const Error& error) {
    std::string out;
    if (error.message.find(server) == std::string::npos) {
        out = "cannot connect to ";
        out += server;
        out += ": ";
    }
    out += error.message.empty() ? std::string(describe(error.code)) : error.message;
    return sanitize_for_terminal(out);
}

std::string disconnect_reason(const Error& error) {
    if (error.message.empty()) return std::string(describe(error.code));
    return sanitize_for_terminal(error.message);
}

std::string plural(std::uint64_t count, std::string_view singular, std::string_view plural_form) {
    std::string out = std::to_string(count);
    out += ' ';
    out += count == 1 ? singular : plural_form;
    return out;
}

}  // namespace chat::cli
