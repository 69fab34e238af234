// The WebSocket transport (docs/protocol.md "WebSocket transport"): the JSON frames of the JSON
// transport, one per WebSocket text message, upgraded at /ws on default port 7402, optionally
// inside TLS (wss; ServerConfig::tls_cert_file / ClientConfig::tls). Plain HTTP GETs on the same
// port get the browser page: files of a directory (setting `web_root`) or the page built into
// the program when there is one.
// This header is all an application needs: factories for the server and the client half, and
// the hook that adds "ws" to a TransportRegistry.
// Thread use: the functions are thread-safe; see chat/transport.hpp for the objects they make.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "chat/chat_service.hpp"
#include "chat/transport.hpp"

namespace chat::ws_transport {

inline constexpr std::string_view kName = "ws";
inline constexpr std::uint16_t kDefaultPort = 7402;

// Server settings (ServerConfig::settings).
// A directory whose files are served to plain GETs instead of the built-in page.
inline constexpr std::string_view kWebRoot = "web_root";
// Comma-separated origins (scheme://host[:port]) whose pages may open a WebSocket, besides the
// page's own; "*" allows every origin.
inline constexpr std::string_view kAllowedOrigins = "allowed_origins";
// Milliseconds a WebSocket may stay silent: a ping goes out after half of it, and a peer that
// has not answered by the end is dropped. 0 turns keepalive off.
inline constexpr std::string_view kIdleTimeoutMs = "idle_timeout_ms";

// Client settings (ClientConfig::settings).
// The request target of the upgrade (default "/ws").
inline constexpr std::string_view kPath = "path";
// An Origin header to send with the upgrade (default: none, as non-browser clients do).
inline constexpr std::string_view kOrigin = "origin";

// A server for `service` (which must outlive it). Call start() to bind.
std::unique_ptr<ServerTransport> make_server(ChatService& service, const ServerConfig& config);

// A client; call connect() before anything else.
std::unique_ptr<Client> make_client(const ClientConfig& config);

// Adds {"ws", 7402, make_server, make_client} with its settings to `registry`.
void register_transport(TransportRegistry& registry);

}  // namespace chat::ws_transport
