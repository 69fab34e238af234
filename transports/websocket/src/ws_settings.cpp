// The WebSocket transport's own settings: their help and how their values are read.
#include "ws_settings.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <stdexcept>
#include <string_view>
#include <system_error>

#include "chat/websocket/ws_transport.hpp"

namespace chat::ws_transport {

namespace {

[[noreturn]] void bad_value(std::string_view name, std::string_view value, std::string_view why) {
    throw std::invalid_argument("ws transport: setting '" + std::string(name) + "' " +
                                std::string(why) + ", not '" + std::string(value) + "'");
}

// A day: far beyond any useful keepalive, still safe to add to a clock.
constexpr std::uint64_t kMaxIdleMs = 24ULL * 60 * 60 * 1000;

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

// An origin as browsers send it: scheme "://" host [":" port], nothing after.
bool is_origin(std::string_view origin) {
    const auto sep = origin.find("://");
    if (sep == std::string_view::npos || sep == 0) return false;
    const std::string_view host = origin.substr(sep + 3);
    if (host.empty()) return false;
    return std::none_of(host.begin(), host.end(), [](char c) {
        return c == '/' || c == '?' || c == '#' || c == ' ' || c == '@';
    });
}

}  // namespace

std::vector<TransportSetting> server_setting_list() {
    return {
        {std::string(kWebRoot),
         "directory whose files are served to plain HTTP GETs instead of the built-in page "
         "(default: the built-in page)"},
        {std::string(kAllowedOrigins),
         "comma-separated origins (scheme://host[:port]) whose pages may open a WebSocket, besides "
         "the page's own; * allows every origin (default: only the page's own)"},
        {std::string(kIdleTimeoutMs),
         "milliseconds a WebSocket may stay silent: a ping after half of it, dropped at the end "
         "(default 60000; 0: no keepalive)"},
    };
}

std::vector<TransportSetting> client_setting_list() {
    return {
        {std::string(kPath), "the request target of the WebSocket upgrade (default /ws)"},
        {std::string(kOrigin), "an Origin header to send with the upgrade (default: none)"},
    };
}

ServerSettings server_settings(const TransportSettings& settings) {
    ServerSettings out;
    for (const auto& [name, value] : settings) {
        if (name == kWebRoot) {
            std::error_code ec;
            const auto root = std::filesystem::canonical(value, ec);
            if (ec || !std::filesystem::is_directory(root, ec)) {
                bad_value(name, value, "must name a readable directory");
            }
            out.web_root = root;
        } else if (name == kAllowedOrigins) {
            std::string_view rest = value;
            while (!rest.empty()) {
                const auto comma = rest.find(',');
                const std::string_view item = trim(rest.substr(0, comma));
                rest =
                    comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
                if (item.empty()) continue;
                if (item == "*") {
                    out.any_origin = true;
                } else if (is_origin(item)) {
                    out.allowed_origins.push_back(lower(item));
                } else {
                    bad_value(name, value, "must list origins like https://chat.example.org");
                }
            }
        } else if (name == kIdleTimeoutMs) {
            std::uint64_t ms = 0;
            const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
            if (ec != std::errc() || end != value.data() + value.size() || ms > kMaxIdleMs) {
                bad_value(name, value,
                          "must be an integer from 0 to " + std::to_string(kMaxIdleMs));
            }
            out.idle_timeout = std::chrono::milliseconds(ms);
        } else {
            throw_unknown_setting(kName, name, server_setting_list());
        }
    }
    return out;
}

ClientSettings client_settings(const TransportSettings& settings) {
    ClientSettings out;
    for (const auto& [name, value] : settings) {
        if (name == kPath) {
            if (value.empty() || value.front() != '/' ||
                value.find_first_of(" \r\n") != std::string::npos) {
                bad_value(name, value, "must be a path starting with /");
            }
            out.path = value;
        } else if (name == kOrigin) {
            if (value.find_first_of("\r\n") != std::string::npos) {
                bad_value(name, value, "must be one line");
            }
            out.origin = value;
        } else {
            throw_unknown_setting(kName, name, client_setting_list());
        }
    }
    return out;
}

}  // namespace chat::ws_transport
