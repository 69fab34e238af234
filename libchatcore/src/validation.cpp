// The domain rules on names, passwords and bodies (docs/protocol.md "Domain rules").
#include "chat/validation.hpp"

#include "chat/limits.hpp"

namespace chat {

bool is_valid_utf8(std::string_view text) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const auto* end = p + text.size();
    while (p < end) {
        const unsigned char c = *p;
        if (c < 0x80) {
            ++p;
            continue;
        }
        int extra = 0;
        unsigned min_cp = 0;
        unsigned cp = 0;
        if ((c & 0xE0) == 0xC0) {
            extra = 1;
            min_cp = 0x80;
            cp = c & 0x1Fu;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2;
            min_cp = 0x800;
            cp = c & 0x0Fu;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3;
            min_cp = 0x10000;
            cp = c & 0x07u;
        } else {
            return false;  // stray continuation byte or 0xF8..0xFF
        }
        if (end - p <= extra) return false;
        for (int i = 1; i <= extra; ++i) {
            const unsigned char cc = p[i];
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3Fu);
        }
        if (cp < min_cp) return false;                   // overlong
        if (cp > 0x10FFFF) return false;                 // beyond Unicode
        if (cp >= 0xD800 && cp <= 0xDFFF) return false;  // surrogate halves
        p += extra + 1;
    }
    return true;
}

bool is_valid_username(std::string_view name) noexcept {
    if (name.empty() || name.size() > Limits::kMaxUsername) return false;
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        if (!ok) return false;
    }
    return true;
}

bool is_valid_password(std::string_view password) noexcept {
    return !password.empty() && password.size() <= Limits::kMaxPassword && is_valid_utf8(password);
}

bool is_valid_body(std::string_view body) noexcept {
    return !body.empty() && body.size() <= Limits::kMaxBody && is_valid_utf8(body);
}

std::string to_lower_ascii(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

namespace {

struct TextFieldRule {
    Errc code;         // what broken UTF-8 in the field gets
    const char* name;  // how an error names the field
};

TextFieldRule rule_of(TextField field) noexcept {
    switch (field) {
        case TextField::username:
            return {Errc::invalid_username, "the username"};
        case TextField::password:
            return {Errc::invalid_password, "the password"};
        case TextField::recipient:
            return {Errc::no_such_user, "the recipient"};
        case TextField::body:
            return {Errc::invalid_message, "the message"};
        case TextField::pattern:
            return {Errc::bad_request, "the pattern"};
        case TextField::cursor:
            return {Errc::bad_request, "the cursor"};
    }
    return {Errc::bad_request, "text"};
}

}  // namespace

Errc invalid_utf8_code(TextField field) noexcept { return rule_of(field).code; }

std::optional<Error> check_utf8(TextField field, std::string_view text) {
    if (is_valid_utf8(text)) return std::nullopt;
    const TextFieldRule rule = rule_of(field);
    return make_error(rule.code, std::string(rule.name) + " is not valid UTF-8 text");
}

}  // namespace chat
