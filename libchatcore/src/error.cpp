// Wire strings of the error codes: the one table both transports share for the code text.
#include "chat/error.hpp"

#include <array>
#include <utility>

namespace chat {
namespace {

constexpr std::array<std::pair<Errc, std::string_view>, 15> kCodes{{
    {Errc::bad_request, "bad_request"},
    {Errc::unknown_op, "unknown_op"},
    {Errc::unsupported_version, "unsupported_version"},
    {Errc::invalid_username, "invalid_username"},
    {Errc::invalid_password, "invalid_password"},
    {Errc::invalid_message, "invalid_message"},
    {Errc::user_exists, "user_exists"},
    {Errc::no_such_user, "no_such_user"},
    {Errc::bad_credentials, "bad_credentials"},
    {Errc::not_logged_in, "not_logged_in"},
    {Errc::already_logged_in, "already_logged_in"},
    {Errc::frame_too_large, "frame_too_large"},
    {Errc::rate_limited, "rate_limited"},
    {Errc::server_busy, "server_busy"},
    {Errc::internal, "internal"},
}};

}  // namespace

std::string_view to_string(Errc code) noexcept {
    for (const auto& [c, text] : kCodes) {
        if (c == code) return text;
    }
    return "internal";
}

std::optional<Errc> errc_from_string(std::string_view text) noexcept {
    for (const auto& [c, t] : kCodes) {
        if (t == text) return c;
    }
    return std::nullopt;
}

}  // namespace chat
