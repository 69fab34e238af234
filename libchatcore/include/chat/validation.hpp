// Validation of the domain rules of docs/protocol.md: usernames, passwords, message bodies, UTF-8.
// Thread use: pure functions; call from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "chat/error.hpp"

namespace chat {

// True when `text` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view text) noexcept;

// 1-32 bytes of A-Z a-z 0-9 _ . -
bool is_valid_username(std::string_view name) noexcept;

// 1-256 bytes of valid UTF-8.
bool is_valid_password(std::string_view password) noexcept;

// 1-16384 bytes of valid UTF-8.
bool is_valid_body(std::string_view body) noexcept;

// The text fields of the requests. Text that is not valid UTF-8 breaks the rule of its field, so
// it gets that rule's error code (docs/protocol.md, "Requests"); fields without a rule of their
// own get bad_request. Clients whose wire cannot carry such text (gRPC's proto3 strings, a
// command line) use this one table to answer as a server would.
enum class TextField { username, password, recipient, body, pattern, cursor };
Errc invalid_utf8_code(TextField field) noexcept;
// nullopt when `text` is valid UTF-8; else the error of `field`'s rule, naming the field.
std::optional<Error> check_utf8(TextField field, std::string_view text);

// ASCII lower-casing: the key under which usernames are unique and ordered.
std::string to_lower_ascii(std::string_view text);

}  // namespace chat
