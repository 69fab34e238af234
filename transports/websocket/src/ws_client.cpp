// WsClient: the client half of the WebSocket transport: one WebSocket (wss when
// ClientConfig::tls asks for it) upgraded at ClientSettings::path, one JSON frame per text
// message. The requests, replies and pushes are FrameClient's (transports/json/src/
// frame_client.hpp), shared with the JSON Lines client; this is the connection.
//
// The I/O thread owns the stream: it reads messages (completing pending requests) and writes
// the queued frames one message each, one write in flight.
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "chat/websocket/ws_transport.hpp"
#include "coalescing_stream.hpp"
#include "frame_client.hpp"
#include "tls_context.hpp"
#include "ws_settings.hpp"

namespace chat::ws_transport {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

// Replies are not bounded by the server's max_frame (a fetch of 1000 long messages is large);
// this only guards against a peer that sends without end.
constexpr std::uint64_t kMaxReplyBytes = 512u * 1024u * 1024u;
// Bytes of requests that may wait for the socket while the next ones are written: Beast writes
// one message at a time, and this lets a batch of them leave in one socket write.
constexpr std::size_t kWriteBehindBytes = 256 * 1024;

// Thread use: see chat::Client. Inner: beast::tcp_stream or the TLS stream over it; Beast's
// stream sits on a CoalescingStream over it (few system calls for many small messages).
template <class Inner>
class WsClient final : public json_transport::FrameClient {
   public:
    static constexpr bool kTls = !std::is_same_v<Inner, beast::tcp_stream>;
    using NextLayer = CoalescingStream<Inner>;

    WsClient(const ClientConfig& config, ClientSettings settings)
        : FrameClient(config, "ws-callbacks", true), settings_(std::move(settings)) {}

    // The callback thread ends with the Delivery (joined, or left to end by itself when the
    // client is destroyed from inside a handler).
    ~WsClient() override { close(); }

   private:
    // Runs the io_context until `done` is set or the request timeout passes; false on timeout
    // (the socket is closed then and the cancelled operation has finished).
    bool run_until(const std::optional<boost::system::error_code>& done) {
        auto& ioc = io_context();
        ioc.restart();
        ioc.run_for(config().timeout);
        if (done) return true;
        boost::system::error_code ignored;
        beast::get_lowest_layer(*ws_).socket().close(ignored);
        ioc.restart();
        ioc.run();
        return false;
    }

    Result<void> open_connection() override {
        const ClientConfig& conf = config();
        if constexpr (kTls) {
            try {
                tls_context_ = json_transport::make_client_tls_context(conf);
            } catch (const std::exception& e) {
                return make_error(Errc::internal, e.what());
            }
            ws_.emplace(io_context(), *tls_context_);
        } else {
            ws_.emplace(io_context());
        }
        ws_->next_layer().set_write_behind(kWriteBehindBytes);
        boost::system::error_code ec;
        tcp::resolver resolver(io_context());
        auto endpoints = resolver.resolve(conf.host, std::to_string(conf.port), ec);
        if (ec) {
            return make_error(Errc::internal, "cannot resolve " + conf.host + ": " + ec.message());
        }
        std::optional<boost::system::error_code> result;
        asio::async_connect(beast::get_lowest_layer(*ws_).socket(), endpoints,
                            [&result](boost::system::error_code connect_ec, const tcp::endpoint&) {
                                result = connect_ec;
                            });
        if (!run_until(result)) {
            return make_error(Errc::internal, "timeout connecting to " + address());
        }
        if (*result) {
            return make_error(Errc::internal,
                              "cannot connect to " + address() + ": " + result->message());
        }
        beast::get_lowest_layer(*ws_).socket().set_option(tcp::no_delay(true), ec);
        if constexpr (kTls) {
            auto secured = start_tls();
            if (!secured.ok()) return fail(secured.error());
        }
        auto upgraded = start_websocket();
        if (!upgraded.ok()) return fail(upgraded.error());
        io_context().restart();
        return {};
    }

    Result<void> fail(Error error) {
        boost::system::error_code ignored;
        beast::get_lowest_layer(*ws_).socket().close(ignored);
        io_context().restart();
        return error;
    }

    Result<void> start_tls() {
        if constexpr (kTls) {
            const ClientConfig& conf = config();
            auto& tls = ws_->next_layer().next_layer();
            const std::string& name =
                conf.tls_server_name.empty() ? conf.host : conf.tls_server_name;
            if (!json_transport::expect_server_name(tls.native_handle(), name)) {
                return make_error(Errc::internal,
                                  "cannot check a TLS certificate for '" + name + "'");
            }
            std::optional<boost::system::error_code> result;
            tls.async_handshake(ssl::stream_base::client,
                                [&result](boost::system::error_code ec) { result = ec; });
            if (!run_until(result)) {
                return make_error(Errc::internal, "timeout in the TLS handshake with " + address());
            }
            if (*result) {
                return make_error(Errc::internal, "TLS handshake with " + address() + " failed: " +
                                                      json_transport::handshake_failure(
                                                          tls.native_handle(), *result));
            }
        }
        return {};
    }

    Result<void> start_websocket() {
        auto& ws = *ws_;
        ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
        websocket::permessage_deflate no_compression;
        no_compression.client_enable = false;
        ws.set_option(no_compression);
        ws.read_message_max(kMaxReplyBytes);
        ws.set_option(websocket::stream_base::decorator(
            [origin = settings_.origin](websocket::request_type& request) {
                request.set(beast::http::field::user_agent, "chat");
                if (!origin.empty()) request.set(beast::http::field::origin, origin);
            }));
        ws.text(true);
        const std::string host = config().host + ":" + std::to_string(config().port);
        std::optional<boost::system::error_code> result;
        websocket::response_type response;
        ws.async_handshake(response, host, settings_.path,
                           [&result](boost::system::error_code ec) { result = ec; });
        if (!run_until(result)) {
            return make_error(Errc::internal,
                              "timeout in the WebSocket handshake with " + address());
        }
        if (*result) {
            std::string why = result->message();
            if (*result == websocket::error::upgrade_declined) {
                why = "the server answered HTTP " + std::to_string(response.result_int());
            }
            return make_error(Errc::internal,
                              "WebSocket handshake with " + address() + " failed: " + why);
        }
        return {};
    }

    void start_reading() override { read(); }

    void shut_connection() override {
        if (!ws_) return;
        boost::system::error_code ignored;
        auto& socket = beast::get_lowest_layer(*ws_).socket();
        socket.shutdown(tcp::socket::shutdown_both, ignored);
        socket.close(ignored);
    }

    // --- I/O thread ---

    void flush_outbox() override {
        take_outbox(outbound_);
        if (!beast::get_lowest_layer(*ws_).socket().is_open()) return;
        if (!write_in_flight_ && !outbound_.empty()) start_write();
    }

    void start_write() {
        writing_.swap(outbound_);
        outbound_.clear();
        rest_ = writing_;
        write_in_flight_ = true;
        write_next();
    }

    // Every frame of the outbox ends in '\n'; each goes out as one text message without it.
    void write_next() {
        const std::size_t newline = rest_.find('\n');
        const std::string_view frame = rest_.substr(0, newline);
        rest_.remove_prefix(newline == std::string_view::npos ? rest_.size() : newline + 1);
        ws_->async_write(asio::buffer(frame.data(), frame.size()),
                         [this](boost::system::error_code ec, std::size_t) {
                             if (!ec && !rest_.empty()) return write_next();
                             write_in_flight_ = false;
                             writing_.clear();
                             rest_ = {};
                             if (ec) return;  // the reader sees the broken connection too
                             if (!outbound_.empty()) start_write();
                         });
    }

    void read() {
        ws_->async_read(read_buffer_, [this](boost::system::error_code ec, std::size_t) {
            if (ec) return on_broken(ec);
            const auto bytes = read_buffer_.cdata();
            delivery().hold();
            on_frame(std::string_view(static_cast<const char*>(bytes.data()), bytes.size()));
            delivery().release();
            read_buffer_.clear();
            if (read_buffer_.capacity() > 64 * 1024) read_buffer_.shrink_to_fit();
            read();
        });
    }

    const ClientSettings settings_;
    // TLS only (ClientConfig::tls): the context of the stream, made by connect().
    std::unique_ptr<ssl::context> tls_context_;
    std::optional<websocket::stream<NextLayer>> ws_;  // made by connect()

    // I/O thread only.
    beast::flat_buffer read_buffer_;
    std::string outbound_;
    std::string writing_;
    std::string_view rest_;  // what is left of writing_
    bool write_in_flight_ = false;
};

}  // namespace

std::unique_ptr<Client> make_client(const ClientConfig& config) {
    ClientSettings settings = client_settings(config.settings);
    if (config.tls) {
        return std::make_unique<WsClient<beast::ssl_stream<beast::tcp_stream>>>(
            config, std::move(settings));
    }
    return std::make_unique<WsClient<beast::tcp_stream>>(config, std::move(settings));
}

}  // namespace chat::ws_transport
