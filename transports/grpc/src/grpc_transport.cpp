// Registration of the gRPC transport in the transport registry.
#include "chat/grpc/grpc_transport.hpp"

#include <string>

#include "settings.hpp"

namespace chat::grpc_transport {

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

}  // namespace chat::grpc_transport
