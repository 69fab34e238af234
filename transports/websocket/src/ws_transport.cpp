// Registers the WebSocket transport under the name "ws".
#include "chat/websocket/ws_transport.hpp"

#include "ws_settings.hpp"

namespace chat::ws_transport {

void register_transport(TransportRegistry& registry) {
    registry.add(TransportInfo{
        .name = std::string(kName),
        .default_port = kDefaultPort,
        .make_server = [](ChatService& service,
                          const ServerConfig& config) { return make_server(service, config); },
        .make_client = [](const ClientConfig& config) { return make_client(config); },
        .server_settings = server_setting_list(),
        .client_settings = client_setting_list(),
    });
}

}  // namespace chat::ws_transport
