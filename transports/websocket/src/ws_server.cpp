// WsServer: the server half of the WebSocket transport: a FrameServer (the acceptor, threads,
// connection limits and stop shared with the JSON Lines transport) whose sockets become
// WebSocket connections (ws_connection.hpp).
#include "chat/websocket/ws_transport.hpp"
#include "frame_server.hpp"
#include "ws_connection.hpp"
#include "ws_settings.hpp"

namespace chat::ws_transport {

namespace {

// Thread use: start() and stop() from one controlling thread (see ServerTransport).
class WsServer final : public json_transport::FrameServer {
   public:
    WsServer(ChatService& service, const ServerConfig& config, ServerSettings settings)
        : FrameServer(service, config, std::string(kName)),
          settings_(std::make_shared<const ServerSettings>(std::move(settings))) {}
    ~WsServer() override { stop(); }

   private:
    std::shared_ptr<json_transport::FrameConnection> make_connection(
        json_transport::ServerCore& core, tcp::socket socket, std::uint64_t id, bool reject_busy,
        bool peer_full) override {
        return ws_transport::make_connection(core, std::move(socket), id, reject_busy, peer_full,
                                             settings_);
    }

    const std::shared_ptr<const ServerSettings> settings_;
};

}  // namespace

std::unique_ptr<ServerTransport> make_server(ChatService& service, const ServerConfig& config) {
    return std::make_unique<WsServer>(service, config, server_settings(config.settings));
}

}  // namespace chat::ws_transport
