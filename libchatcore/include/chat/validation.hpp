// Validation of the domain rules of docs/protocol.md: usernames, passwords, message bodies, UTF-8.
// Thread use: pure functions; call from any thread.
#pragma once

#include <string>
#include <string_view>

namespace chat {

// True when `text` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view text) noexcept;

// 1-32 bytes of A-Z a-z 0-9 _ . -
bool is_valid_username(std::string_view name) noexcept;

// 1-256 bytes of valid UTF-8.
bool is_valid_password(std::string_view password) noexcept;

// 1-16384 bytes of valid UTF-8.
bool is_valid_body(std::string_view body) noexcept;

// ASCII lower-casing: the key under which usernames are unique and ordered.
std::string to_lower_ascii(std::string_view text);

}  // namespace chat
