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

// ServerConfig::settings of this transport. "session_idle_ms": milliseconds a session token may
// go unused while no Subscribe stream is open before it expires (a positive integer; default
// 600000, ten minutes).
inline constexpr std::string_view kSessionIdleMs = "session_idle_ms";

// ClientConfig::settings of this transport. "max_sends_in_flight": how many send/send_async
// calls may be on the wire at once (an integer; default 1, 0 counts as 1). 1 sends them one at
// a time, so one client's messages are stored in call order. A larger value pipelines up to
// that many concurrent Send RPCs (faster), but gRPC orders nothing between concurrent calls, so
// their storage order (and ids) may then differ from call order.
inline constexpr std::string_view kMaxSendsInFlight = "max_sends_in_flight";

// A server for `service` on config.listen:config.port (port 0: ephemeral, see local_port()).
// `service` must outlive it. config.threads is not used: gRPC sizes its own thread pool. Throws
// std::invalid_argument for a setting it does not know or cannot read.
std::unique_ptr<ServerTransport> make_server(ChatService& service, const ServerConfig& config);

// A client; call connect() before anything else. Throws std::invalid_argument for a setting it
// does not know or cannot read.
std::unique_ptr<Client> make_client(const ClientConfig& config);

// Adds "grpc" (default port 7401, with the settings above) to `registry`.
void register_transport(TransportRegistry& registry);

}  // namespace chat::grpc_transport
