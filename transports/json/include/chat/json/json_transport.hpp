// The JSON Lines transport (docs/protocol.md "JSON transport"): one JSON object per line over TCP,
// default port 7400, optionally inside TLS (ServerConfig::tls_cert_file / ClientConfig::tls).
// This header is all an application needs: factories for the server and the client half, and
// the hook that adds "json" to a TransportRegistry.
// Thread use: the functions are thread-safe; see chat/transport.hpp for the objects they make.
#pragma once

#include <cstdint>
#include <memory>

#include "chat/chat_service.hpp"
#include "chat/transport.hpp"

namespace chat::json_transport {

inline constexpr std::uint16_t kDefaultPort = 7400;

// A server for `service` (which must outlive it). Call start() to bind.
std::unique_ptr<ServerTransport> make_server(ChatService& service, const ServerConfig& config);

// A client; call connect() before anything else.
std::unique_ptr<Client> make_client(const ClientConfig& config);

// Adds {"json", 7400, make_server, make_client} to `registry`.
void register_transport(TransportRegistry& registry);

}  // namespace chat::json_transport
