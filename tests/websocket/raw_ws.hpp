// Test helpers that speak to chatd's WebSocket port with Boost.Beast directly, not through
// chat::Client: a raw WebSocket (plain or wss) that sends any message, text or binary, valid or
// not, and reads messages and the close code; a raw HTTP request; a chatd on the ws transport.
// Every operation runs the helper's own io_context for a bounded time, so a test that goes
// wrong fails instead of hanging.
// Thread use: one test thread per object.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "e2e/chatd_process.hpp"

namespace chat::ws_test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
namespace json = boost::json;
using tcp = asio::ip::tcp;

inline constexpr std::chrono::milliseconds kTimeout{10000};

struct WsOptions {
    std::string path = "/ws";
    std::optional<std::string> origin;  // none: no Origin header
    std::string host;                   // the Host header; empty: 127.0.0.1:<port>
    int receive_buffer = 0;             // SO_RCVBUF before connecting; 0: the default
    std::string ca_file;                // wss: the CA to verify the server with
};

// What one read gave: a message, or the end of the WebSocket (with the peer's close code), or
// nothing within the time allowed.
struct WsRead {
    enum class Kind { message, closed, failed, timed_out } kind = Kind::timed_out;
    std::string text;
    bool binary = false;
    std::uint16_t close_code = 0;  // Kind::closed
    boost::system::error_code error;
};

template <class NextLayer>
class RawWsT final {
   public:
    static constexpr bool kTls = !std::is_same_v<NextLayer, beast::tcp_stream>;

    RawWsT() = default;
    RawWsT(const RawWsT&) = delete;
    RawWsT& operator=(const RawWsT&) = delete;

    // Connects and upgrades. Empty on success, else why not (with the HTTP status when the
    // server declined the upgrade: see http_status()).
    std::string connect(std::uint16_t port, const WsOptions& options = {}) {
        if constexpr (kTls) {
            tls_context_ = std::make_unique<ssl::context>(ssl::context::tls_client);
            tls_context_->set_verify_mode(ssl::verify_peer);
            if (!options.ca_file.empty()) tls_context_->load_verify_file(options.ca_file);
            ws_.emplace(ioc_, *tls_context_);
        } else {
            ws_.emplace(ioc_);
        }
        auto& socket = beast::get_lowest_layer(*ws_).socket();
        boost::system::error_code ec;
        socket.open(tcp::v4(), ec);
        if (options.receive_buffer > 0) {
            socket.set_option(asio::socket_base::receive_buffer_size(options.receive_buffer), ec);
        }
        std::optional<boost::system::error_code> done;
        socket.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                             [&done](boost::system::error_code e) { done = e; });
        if (!run(done)) return "connect timed out";
        if (*done) return "connect failed: " + done->message();
        if constexpr (kTls) {
            done.reset();
            ws_->next_layer().async_handshake(ssl::stream_base::client,
                                              [&done](boost::system::error_code e) { done = e; });
            if (!run(done)) return "tls handshake timed out";
            if (*done) return "tls handshake failed: " + done->message();
        }
        ws_->set_option(websocket::stream_base::decorator(
            [origin = options.origin](websocket::request_type& request) {
                if (origin) request.set(http::field::origin, *origin);
            }));
        // Replies and pushes can be large (a fetch page); this client reads what comes.
        ws_->read_message_max(64u * 1024u * 1024u);
        const std::string host =
            options.host.empty() ? "127.0.0.1:" + std::to_string(port) : options.host;
        done.reset();
        ws_->async_handshake(response_, host, options.path,
                             [&done](boost::system::error_code e) { done = e; });
        if (!run(done)) return "websocket handshake timed out";
        if (*done) return "websocket handshake failed: " + done->message();
        return {};
    }

    // The status of the upgrade's HTTP response (101 when it succeeded).
    unsigned http_status() const { return response_.result_int(); }
    const websocket::response_type& http_response() const { return response_; }

    // Sends one message; false when the connection is broken.
    bool send_text(std::string_view text) { return send(text, false); }
    bool send_binary(std::string_view bytes) { return send(bytes, true); }
    bool send_json(const json::object& request) { return send_text(json::serialize(request)); }

    // The next message, or how the WebSocket ended.
    WsRead read(std::chrono::milliseconds timeout = kTimeout) {
        WsRead out;
        if (closed_) {
            out.kind = WsRead::Kind::closed;
            out.close_code = close_code_;
            return out;
        }
        beast::flat_buffer buffer;
        std::optional<boost::system::error_code> done;
        ws_->async_read(buffer, [&done](boost::system::error_code e, std::size_t) { done = e; });
        if (!run(done, timeout)) return out;  // timed out (the stream is closed now)
        if (*done == websocket::error::closed) {
            closed_ = true;
            close_code_ = ws_->reason().code;
            out.kind = WsRead::Kind::closed;
            out.close_code = close_code_;
            return out;
        }
        if (*done) {
            out.kind = WsRead::Kind::failed;
            out.error = *done;
            return out;
        }
        out.kind = WsRead::Kind::message;
        out.binary = ws_->got_binary();
        out.text = beast::buffers_to_string(buffer.data());
        return out;
    }

    // The next message as a JSON object; nullopt when none came or it is not one.
    std::optional<json::object> read_json(std::chrono::milliseconds timeout = kTimeout) {
        WsRead r = read(timeout);
        if (r.kind != WsRead::Kind::message) return std::nullopt;
        boost::system::error_code ec;
        json::value value = json::parse(r.text, ec);
        if (ec || !value.is_object()) return std::nullopt;
        return value.as_object();
    }

    // Sends `request` and returns the first reply (skipping pushes).
    std::optional<json::object> call(const json::object& request) {
        if (!send_json(request)) return std::nullopt;
        while (true) {
            auto reply = read_json();
            if (!reply || reply->contains("ok")) return reply;
        }
    }

    // Sends `request` after `quiet` during which a read is pending but nothing may arrive
    // (pings are answered meanwhile, as by any reading client); then its reply. Nullopt when
    // something arrived during the quiet time or no reply came.
    std::optional<json::object> call_after_quiet(const json::object& request,
                                                 std::chrono::milliseconds quiet) {
        beast::flat_buffer buffer;
        std::optional<boost::system::error_code> read_done;
        ws_->async_read(buffer,
                        [&read_done](boost::system::error_code e, std::size_t) { read_done = e; });
        ioc_.restart();
        ioc_.run_for(quiet);
        if (read_done) return std::nullopt;
        const std::string text = json::serialize(request);
        ws_->binary(false);
        std::optional<boost::system::error_code> write_done;
        ws_->async_write(asio::buffer(text), [&write_done](boost::system::error_code e,
                                                           std::size_t) { write_done = e; });
        if (!run(read_done) || *read_done) return std::nullopt;
        boost::system::error_code ec;
        json::value value = json::parse(beast::buffers_to_string(buffer.data()), ec);
        if (ec || !value.is_object()) return std::nullopt;
        return value.as_object();
    }

    // Our close frame with `code`, then the peer's; true when the handshake completed.
    bool close(websocket::close_code code = websocket::close_code::normal) {
        std::optional<boost::system::error_code> done;
        ws_->async_close(code, [&done](boost::system::error_code e) { done = e; });
        return run(done) && !*done;
    }

    tcp::socket& socket() { return beast::get_lowest_layer(*ws_).socket(); }

   private:
    bool send(std::string_view data, bool binary) {
        ws_->binary(binary);
        std::optional<boost::system::error_code> done;
        ws_->async_write(asio::buffer(data.data(), data.size()),
                         [&done](boost::system::error_code e, std::size_t) { done = e; });
        return run(done) && !*done;
    }

    // Runs until `done` is set or `timeout` passes; on timeout the socket is closed and the
    // cancelled operation is let finish.
    bool run(const std::optional<boost::system::error_code>& done,
             std::chrono::milliseconds timeout = kTimeout) {
        ioc_.restart();
        ioc_.run_for(timeout);
        if (done) return true;
        boost::system::error_code ignored;
        beast::get_lowest_layer(*ws_).socket().close(ignored);
        ioc_.restart();
        ioc_.run();
        return false;
    }

    asio::io_context ioc_;
    std::unique_ptr<ssl::context> tls_context_;
    std::optional<websocket::stream<NextLayer>> ws_;
    websocket::response_type response_;
    bool closed_ = false;
    std::uint16_t close_code_ = 0;
};

using RawWs = RawWsT<beast::tcp_stream>;
using RawWss = RawWsT<beast::ssl_stream<beast::tcp_stream>>;

// One HTTP/1.1 request to 127.0.0.1:port; the response, or nullopt when none came.
std::optional<http::response<http::string_body>> http_request(
    std::uint16_t port, http::verb method, std::string_view target,
    const std::vector<std::pair<std::string, std::string>>& headers = {});

// chatd serving the ws transport (and `extra` flags) on an in-memory store, ephemeral ports.
struct WsChatd {
    explicit WsChatd(std::vector<std::string> extra = {});
    ~WsChatd();
    WsChatd(const WsChatd&) = delete;
    WsChatd& operator=(const WsChatd&) = delete;

    e2e::ChatdProcess process;
    std::uint16_t port = 0;
};

// Raw requests: `{"op":op,"id":id,...fields}`.
json::object request(std::string_view op, std::int64_t id, json::object fields = {});
// The error code of a reply, or "" for a success (or no reply).
std::string error_code(const std::optional<json::object>& reply);

// A temporary directory, removed with everything in it.
struct TempDir {
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string write(const std::string& name, const std::string& text) const;
    std::string path;
};

// A self-signed certificate for 127.0.0.1 and localhost, made with the openssl command.
struct TestCertificate {
    TestCertificate();
    TempDir dir;
    std::string cert, key;
};

}  // namespace chat::ws_test
