// FrameServer: the acceptor, threads, connection limits and stop of the frame transports (see
// frame_server.hpp).
#include "frame_server.hpp"

#include <algorithm>
#include <stdexcept>

#include "chat/cpus.hpp"
#include "chat/log.hpp"
#include "tls_context.hpp"

namespace chat::json_transport {

namespace {

// After an accept error (say, out of file descriptors), pause before accepting again.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

}  // namespace

FrameServer::FrameServer(ChatService& service, ServerConfig config, std::string name)
    : config_(std::move(config)),
      name_(std::move(name)),
      core_(std::make_shared<ServerCore>(
          service, service.limits(),
          config_.outbound_budget
              ? config_.outbound_budget
              : std::make_shared<OutboundBudget>(service.limits().max_outbound_memory))),
      acceptor_strand_(asio::make_strand(core_->ioc)),
      acceptor_(acceptor_strand_),
      retry_timer_(acceptor_strand_) {}

FrameServer::~FrameServer() = default;

void FrameServer::start() {
    if (started_) throw std::logic_error(name_ + " transport started twice");
    try {
        core_->tls = make_server_tls_context(config_);
    } catch (const std::exception& e) {
        throw std::runtime_error(name_ + " transport: " + e.what());
    }
    core_->tls_handshake_timeout = config_.tls_handshake_timeout;
    boost::system::error_code ec;
    auto address = asio::ip::make_address(config_.listen, ec);
    if (ec)
        throw std::runtime_error(name_ + " transport: bad listen address '" + config_.listen +
                                 "': " + ec.message());
    tcp::endpoint endpoint(address, config_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        std::string where = config_.listen + ":" + std::to_string(config_.port);
        boost::system::error_code ignored;
        acceptor_.close(ignored);
        throw std::runtime_error(name_ + " transport: cannot listen on " + where + ": " +
                                 ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    started_ = true;

    work_.emplace(core_->ioc.get_executor());
    asio::post(acceptor_strand_, [this] { accept(); });
    // By default one per CPU this process may use (chat/cpus.hpp), not one per CPU of the machine.
    unsigned n = config_.threads != 0 ? config_.threads : usable_cpus().usable;
    n = std::max(n, 1u);
    threads_.reserve(n);
    for (unsigned i = 0; i < n; ++i) {
        threads_.emplace_back([this] { core_->ioc.run(); });
    }
}

void FrameServer::stop() {
    if (!started_ || stopped_) return;
    stopped_ = true;

    // 1. No new connections.
    asio::post(acceptor_strand_, [this] {
        boost::system::error_code ec;
        acceptor_.close(ec);
        retry_timer_.cancel();
    });
    // 2. Close every connection (each logs its session out), then wait until all are gone
    //    and every core call we started has posted its completion.
    std::vector<std::shared_ptr<FrameConnection>> open;
    {
        std::lock_guard lock(core_->mutex);
        core_->stopping = true;
        for (auto& [id, weak] : core_->connections) {
            if (auto connection = weak.lock()) open.push_back(std::move(connection));
        }
    }
    for (auto& connection : open) connection->post_close();
    open.clear();
    {
        std::unique_lock lock(core_->mutex);
        core_->changed.wait(lock,
                            [this] { return core_->connections.empty() && core_->inflight == 0; });
    }
    // 3. Let the threads finish the handlers already posted (late completions find their
    //    connection closed and only clean up), then join them.
    work_.reset();
    for (auto& thread : threads_) thread.join();
    threads_.clear();
    log::write(log::Level::debug, name_, "stopped", log::Fields().add("port", port_).str());
}

void FrameServer::accept() {
    acceptor_.async_accept(
        core_->ioc, asio::bind_executor(
                        acceptor_strand_, [this](boost::system::error_code ec, tcp::socket socket) {
                            if (!acceptor_.is_open()) return;
                            if (ec) {
                                log::write(log::Level::warn, name_, "accept failed",
                                           log::Fields().add("error", ec.message()).str());
                                retry_timer_.expires_after(kAcceptRetryDelay);
                                retry_timer_.async_wait(asio::bind_executor(
                                    acceptor_strand_, [this](boost::system::error_code wait_ec) {
                                        if (!wait_ec && acceptor_.is_open()) accept();
                                    }));
                                return;
                            }
                            admit(std::move(socket));
                            accept();
                        }));
}

void FrameServer::admit(tcp::socket socket) {
    std::shared_ptr<FrameConnection> connection;
    {
        std::lock_guard lock(core_->mutex);
        if (core_->stopping) return;  // the socket closes as it goes out of scope
        boost::system::error_code ec;
        const auto peer = socket.remote_endpoint(ec);
        std::string address = ec ? std::string() : peer.address().to_string(ec);
        const std::size_t per_address_limit = core_->limits.max_connections_per_address;
        const bool too_many_from_peer = per_address_limit > 0 && !address.empty() &&
                                        core_->per_address[address] >= per_address_limit;
        const bool busy = core_->live >= core_->limits.max_connections || too_many_from_peer;
        const std::uint64_t id = core_->next_connection_id++;
        connection = make_connection(*core_, std::move(socket), id, busy, too_many_from_peer);
        core_->connections.emplace(id, connection);
        if (!busy) {
            ++core_->live;
            ++core_->per_address[address];
        } else if (core_->per_address[address] == 0) {
            core_->per_address.erase(address);
        }
    }
    connection->start();
}

}  // namespace chat::json_transport
