// Idle WebSocket clients: raw Beast WebSockets on blocking sockets that upgraded, logged in and
// then only stay open (see idle_clients.hpp).
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "account_setup.hpp"
#include "idle_clients.hpp"
#include "raw_json.hpp"

namespace chat::bench {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Socket = websocket::stream<tcp::socket>;

class IdleWsClients final : public IdleClients {
   public:
    IdleWsClients(Endpoint endpoint, std::string prefix)
        : endpoint_(std::move(endpoint)), prefix_(std::move(prefix)) {}
    ~IdleWsClients() override { close(); }

    void open(std::size_t count) override {
        const std::size_t accounts = (count + kIdleClientsPerAccount - 1) / kIdleClientsPerAccount;
        run_parallel(accounts, [&](std::size_t a) {
            auto ws = connect();
            const std::string reply =
                request(*ws, credentials_request("create_account", account(a), kBenchPassword));
            if (reply.find("\"ok\":true") == std::string::npos) {
                throw std::runtime_error("create_account " + account(a) + ": " + reply);
            }
        });
        clients_.resize(count);
        run_parallel(
            count,
            [&](std::size_t i) {
                auto ws = connect();
                const std::string reply =
                    request(*ws, credentials_request("login", account(i / kIdleClientsPerAccount),
                                                     kBenchPassword));
                if (reply.find("\"ok\":true") == std::string::npos) {
                    throw std::runtime_error("idle login: " + reply);
                }
                clients_[i] = std::move(ws);
            },
            kIdleLoginConcurrency);
    }

    void close() override { clients_.clear(); }  // closing a socket is a logout

   private:
    std::string account(std::size_t index) const { return prefix_ + "i" + std::to_string(index); }

    // A blocking WebSocket to the server (connect_tcp's receive timeout bounds every read).
    std::unique_ptr<Socket> connect() {
        const int fd = connect_tcp(endpoint_);
        auto ws = std::make_unique<Socket>(ioc_);
        boost::system::error_code ec;
        const bool v6 = endpoint_.host.find(':') != std::string::npos;
        ws->next_layer().assign(v6 ? tcp::v6() : tcp::v4(), fd, ec);
        if (ec) {
            ::close(fd);
            throw std::runtime_error("idle ws socket: " + ec.message());
        }
        ws->handshake(endpoint_.host + ":" + std::to_string(endpoint_.port), "/ws", ec);
        if (ec) throw std::runtime_error("idle ws upgrade: " + ec.message());
        ws->text(true);
        return ws;
    }

    // `line` without its '\n' as one message; the next message back.
    static std::string request(Socket& ws, std::string_view line) {
        if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
        boost::system::error_code ec;
        ws.write(asio::buffer(line.data(), line.size()), ec);
        beast::flat_buffer buffer;
        if (!ec) ws.read(buffer, ec);
        if (ec) throw std::runtime_error("idle ws request: " + ec.message());
        return beast::buffers_to_string(buffer.data());
    }

    const Endpoint endpoint_;
    const std::string prefix_;
    asio::io_context ioc_;  // owns no thread: the sockets are used blocking
    std::vector<std::unique_ptr<Socket>> clients_;
};

}  // namespace

std::unique_ptr<IdleClients> make_idle_ws_clients(const Endpoint& endpoint,
                                                  const std::string& name_prefix) {
    return std::make_unique<IdleWsClients>(endpoint, name_prefix);
}

}  // namespace chat::bench
