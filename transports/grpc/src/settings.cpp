// The gRPC transport's own settings: their help and how their values are read.
#include "settings.hpp"

#include <charconv>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

#include "chat/grpc/grpc_transport.hpp"

namespace chat::grpc_transport {

namespace {

// The decimal integer `value` of setting `name` within [min, max].
std::uint64_t read_integer(std::string_view name, std::string_view value, std::uint64_t min,
                           std::uint64_t max) {
    std::uint64_t out = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
    if (ec != std::errc() || end != value.data() + value.size() || out < min || out > max) {
        throw std::invalid_argument("grpc transport: setting '" + std::string(name) + "' must be " +
                                    "an integer from " + std::to_string(min) + " to " +
                                    std::to_string(max) + ", not '" + std::string(value) + "'");
    }
    return out;
}

// Thirty days: far beyond any useful idle time, still safe to add to a clock.
constexpr std::uint64_t kMaxSessionIdleMs = 30ULL * 24 * 60 * 60 * 1000;

}  // namespace

std::vector<TransportSetting> server_setting_list() {
    return {{std::string(kSessionIdleMs),
             "milliseconds a session token may go unused while no Subscribe stream is open "
             "before it expires (default 600000)"}};
}

std::vector<TransportSetting> client_setting_list() {
    return {{std::string(kMaxSendsInFlight),
             "Send calls on the wire at once; 1 keeps one client's messages in call order, more "
             "pipelines them (default 1)"}};
}

ServerSettings server_settings(const TransportSettings& settings) {
    ServerSettings out;
    for (const auto& [name, value] : settings) {
        if (name == kSessionIdleMs) {
            out.session_idle =
                std::chrono::milliseconds(read_integer(name, value, 1, kMaxSessionIdleMs));
        } else {
            throw_unknown_setting("grpc", name, server_setting_list());
        }
    }
    return out;
}

ClientSettings client_settings(const TransportSettings& settings) {
    ClientSettings out;
    for (const auto& [name, value] : settings) {
        if (name == kMaxSendsInFlight) {
            const auto n = read_integer(name, value, 0, std::numeric_limits<unsigned>::max());
            out.max_sends_in_flight = n == 0 ? 1U : static_cast<unsigned>(n);
        } else {
            throw_unknown_setting("grpc", name, client_setting_list());
        }
    }
    return out;
}

}  // namespace chat::grpc_transport
