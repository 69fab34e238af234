// FrameServer: the server half shared by the transports whose connections are
// FrameConnections (JSON Lines, WebSocket): one acceptor, the io_context run on N threads, the
// connection limits (total and per peer address) checked at accept, TLS set up from the
// ServerConfig, and a stop() that closes every connection and waits for the core calls in
// flight. What a socket becomes is the subclass's make_connection().
// Thread use: start() and stop() from one controlling thread (see ServerTransport);
// make_connection() runs on the acceptor strand.
#pragma once

#include <atomic>
#include <boost/asio.hpp>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "chat/transport.hpp"
#include "frame_connection.hpp"
#include "server_core.hpp"

namespace chat::json_transport {

class FrameServer : public ServerTransport {
   public:
    using tcp = asio::ip::tcp;

    // `name`: the transport's name, in errors and the log.
    FrameServer(ChatService& service, ServerConfig config, std::string name);
    // A subclass must call stop() in its own destructor (make_connection is gone after it).
    ~FrameServer() override;

    void start() override;
    void stop() override;
    std::uint16_t local_port() const override { return port_; }
    std::string_view name() const override { return name_; }

   protected:
    // A connection for `socket`, not yet started. `reject_busy`: the server is full (with
    // `peer_full`: full for this peer address), so the connection must only say so and close.
    virtual std::shared_ptr<FrameConnection> make_connection(ServerCore& core, tcp::socket socket,
                                                             std::uint64_t id, bool reject_busy,
                                                             bool peer_full) = 0;
    const ServerConfig& config() const noexcept { return config_; }

   private:
    // On the acceptor strand.
    void accept();
    void admit(tcp::socket socket);

    const ServerConfig config_;
    const std::string name_;
    // Shared with every connection: a core thread may drop the last reference to a closed
    // connection after stop(), and the io_context its socket and timers need must outlive it.
    std::shared_ptr<ServerCore> core_;
    Strand acceptor_strand_;
    tcp::acceptor acceptor_;
    asio::steady_timer retry_timer_;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
    std::vector<std::thread> threads_;
    std::atomic<std::uint16_t> port_{0};
    bool started_ = false;
    bool stopped_ = false;
};

}  // namespace chat::json_transport
