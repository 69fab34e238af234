// The gRPC transport: chat.v1.Chat (proto/chat/v1/chat.proto) served over the gRPC callback API
// on top of a ChatService, and a chat::Client speaking it; plaintext, or TLS with gRPC's SSL
// credentials when ServerConfig / ClientConfig name TLS files. This header has no gRPC includes, so
// programs pick the transport through the registry without compiling against gRPC.
// Thread use: the factories may be called from any thread; see chat/transport.hpp for the
// objects they return.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "chat/transport.hpp"

namespace chat::grpc_transport {

inline constexpr std::string_view kName = "grpc";
inline constexpr std::uint16_t kDefaultPort = 7401;

// A server for `service` on config.listen:config.port (port 0: ephemeral, see local_port()).
// `service` must outlive it. config.threads is not used: gRPC sizes its own thread pool.
std::unique_ptr<ServerTransport> make_server(ChatService& service, const ServerConfig& config);

// A client; call connect() before anything else.
std::unique_ptr<Client> make_client(const ClientConfig& config);

// Adds "grpc" (default port 7401) to `registry`.
void register_transport(TransportRegistry& registry);

}  // namespace chat::grpc_transport
