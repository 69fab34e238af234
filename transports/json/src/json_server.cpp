// JsonServer: the server half of the JSON Lines transport: a FrameServer (frame_server.hpp)
// whose sockets become JSON Lines Connections, each on its own strand. With a certificate and
// key configured, every connection speaks TLS (one shared ssl::context).
#include "chat/json/json_transport.hpp"
#include "frame_server.hpp"
#include "json_connection.hpp"

namespace chat::json_transport {

namespace {

// Thread use: start() and stop() from one controlling thread (see ServerTransport).
class JsonServer final : public FrameServer {
   public:
    JsonServer(ChatService& service, const ServerConfig& config)
        : FrameServer(service, config, "json") {}
    ~JsonServer() override { stop(); }

   private:
    std::shared_ptr<FrameConnection> make_connection(ServerCore& core, tcp::socket socket,
                                                     std::uint64_t id, bool reject_busy,
                                                     bool peer_full) override {
        return std::make_shared<Connection>(core, std::move(socket), id, reject_busy, peer_full);
    }
};

}  // namespace

std::unique_ptr<ServerTransport> make_server(ChatService& service, const ServerConfig& config) {
    // The JSON transport has no settings of its own.
    if (!config.settings.empty()) throw_unknown_setting("json", config.settings.begin()->first, {});
    return std::make_unique<JsonServer>(service, config);
}

}  // namespace chat::json_transport
