// TransportRegistry: name -> factories; the one report of an unknown transport setting.
#include <stdexcept>

#include "chat/reconnecting_client.hpp"
#include "chat/transport.hpp"

namespace chat {

void TransportRegistry::add(TransportInfo info) {
    // One flag gives every application (and every transport) reconnection: the transport's own
    // client stays as it is, the registry's factory wraps it when asked to.
    if (info.make_client) {
        info.make_client = [make = std::move(info.make_client)](
                               const ClientConfig& config) -> std::unique_ptr<Client> {
            if (!config.reconnect.enabled) return make(config);
            return std::make_unique<ReconnectingClient>(make, config);
        };
    }
    auto name = info.name;
    if (!transports_.emplace(name, std::move(info)).second) {
        throw std::logic_error("transport registered twice: " + name);
    }
}

void throw_unknown_setting(std::string_view transport, std::string_view name,
                           const std::vector<TransportSetting>& known) {
    std::string names;
    for (const auto& setting : known) names += (names.empty() ? "" : ", ") + setting.name;
    throw std::invalid_argument(std::string(transport) + " transport: unknown setting '" +
                                std::string(name) +
                                "' (known: " + (names.empty() ? "none" : names) + ")");
}

const TransportInfo* TransportRegistry::find(std::string_view name) const {
    auto it = transports_.find(name);
    return it == transports_.end() ? nullptr : &it->second;
}

std::vector<std::string> TransportRegistry::names() const {
    std::vector<std::string> out;
    out.reserve(transports_.size());
    for (const auto& [name, info] : transports_) out.push_back(name);
    return out;
}

}  // namespace chat
