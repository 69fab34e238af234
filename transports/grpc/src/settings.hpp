// The gRPC transport's own settings (ServerConfig::settings, ClientConfig::settings; names in
// chat/grpc/grpc_transport.hpp): their list with one-line help for TransportInfo, and their
// values read from the name -> text map, refusing what they do not know.
// Thread use: pure functions; call from any thread.
#pragma once

#include <chrono>
#include <vector>

#include "chat/transport.hpp"

namespace chat::grpc_transport {

struct ServerSettings {
    // A token unused this long while no Subscribe stream is open expires.
    std::chrono::milliseconds session_idle{600000};
};

struct ClientSettings {
    unsigned max_sends_in_flight = 1;  // at least 1
};

// Throw std::invalid_argument naming the setting for an unknown name or an unreadable value.
ServerSettings server_settings(const TransportSettings& settings);
ClientSettings client_settings(const TransportSettings& settings);

// The names accepted by server_settings() and client_settings(), with their help.
std::vector<TransportSetting> server_setting_list();
std::vector<TransportSetting> client_setting_list();

}  // namespace chat::grpc_transport
