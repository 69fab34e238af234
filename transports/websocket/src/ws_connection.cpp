// The WebSocket server's connection: HTTP, the upgrade, frames, the close handshake (see
// ws_connection.hpp).
#include "ws_connection.hpp"

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "chat/log.hpp"
#include "coalescing_stream.hpp"
#include "codec.hpp"
#include "http_site.hpp"
#include "ws_message.hpp"

namespace chat::ws_transport {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using json_transport::error_frame;
using json_transport::FrameConnection;
using json_transport::ServerCore;
using json_transport::Strand;

constexpr std::string_view kComponent = "ws";
// After the last reply of a closing connection: how long the close handshake may take.
constexpr std::chrono::milliseconds kLingerTime{1000};
// Before the upgrade: each request's headers must arrive (and each response leave) within this.
constexpr std::chrono::seconds kHttpTimeout{30};
// HTTP requests on one connection before the server closes it (the page is a few files).
constexpr std::size_t kMaxHttpRequests = 100;
constexpr std::uint32_t kMaxHeaderBytes = 8 * 1024;
// Buffers that grew for one large batch or message are released afterwards.
constexpr std::size_t kKeepBufferCapacity = 64 * 1024;
// What a connection that has read everything holds for the next message: most requests fit, and
// a longer one grows the buffer once it is coming.
constexpr std::size_t kIdleReadBytes = 256;
constexpr std::size_t kMaxMessageBuffer = std::numeric_limits<std::size_t>::max();

// The same socket with the connection's strand as its executor, so that every handler of the
// stream, Beast's own included, runs on the strand.
tcp::socket rebind(tcp::socket socket, const Strand& strand) {
    tcp::socket out(strand);
    boost::system::error_code ec;
    const auto local = socket.local_endpoint(ec);
    if (ec) return out;
    const auto handle = socket.release(ec);
    if (ec) return out;
    out.assign(local.protocol(), handle, ec);
    // Small frames go out at once (a hint: a socket without it still works).
    out.set_option(tcp::no_delay(true), ec);
    return out;
}

// Inner: beast::tcp_stream, or the TLS stream over it. Beast's stream sits on a CoalescingStream
// over Inner, which gathers the small reads and writes into few system calls.
template <class Inner>
class WsConnection final : public FrameConnection {
   public:
    static constexpr bool kTls = !std::is_same_v<Inner, beast::tcp_stream>;
    using NextLayer = CoalescingStream<Inner>;

    enum class State {
        handshaking,  // TLS: the handshake is not done yet
        http,         // plain HTTP requests
        upgrading,    // the WebSocket handshake is under way
        serving,      // reading and answering frames (logged in or not: see FrameConnection)
        draining,     // answering no more: the last replies go out
        closing_ws,   // the close handshake is under way
        closed,
    };

    WsConnection(ServerCore& core, tcp::socket socket, std::uint64_t id, bool reject_busy,
                 bool peer_full, std::shared_ptr<const ServerSettings> settings)
        : FrameConnection(core, id, kComponent),
          ws_(open_stream(rebind(std::move(socket), strand_), core)),
          settings_(std::move(settings)),
          linger_timer_(strand_),
          reject_busy_(reject_busy),
          peer_full_(peer_full),
          state_(kTls ? State::handshaking : State::http) {
        peer_ = peer_of(ws_, false);
        peer_address_ = peer_of(ws_, true);
    }

    void start() override {
        asio::dispatch(strand_, [self = shared_self()] {
            if (self->state_ == State::closed) return;
            if constexpr (kTls) {
                self->start_tls();
            } else {
                self->read_http();
            }
        });
    }

    void post_close() override {
        asio::dispatch(strand_, [self = shared_self()] { self->close("server stopping"); });
    }

   private:
    using Request = ws_transport::Request;
    using Response = ws_transport::Response;

    static websocket::stream<NextLayer> open_stream(tcp::socket socket, ServerCore& core) {
        if constexpr (kTls) {
            return websocket::stream<NextLayer>(std::move(socket), *core.tls);
        } else {
            (void)core;
            return websocket::stream<NextLayer>(std::move(socket));
        }
    }

    static std::string peer_of(websocket::stream<NextLayer>& ws, bool address_only) {
        boost::system::error_code ec;
        const auto endpoint = beast::get_lowest_layer(ws).socket().remote_endpoint(ec);
        if (ec) return address_only ? std::string() : std::string("unknown");
        std::string address = endpoint.address().to_string(ec);
        if (address_only) return address;
        return address + ":" + std::to_string(endpoint.port());
    }

    std::shared_ptr<WsConnection> shared_self() {
        return std::static_pointer_cast<WsConnection>(shared_from_this());
    }
    beast::tcp_stream& tcp_layer() { return beast::get_lowest_layer(ws_); }
    bool upgraded() const noexcept {
        return state_ != State::handshaking && state_ != State::http && state_ != State::upgrading;
    }

    // --- FrameConnection's hooks (strand). ---

    bool closing() const noexcept override {
        return state_ == State::draining || state_ == State::closing_ws || state_ == State::closed;
    }
    bool closed() const noexcept override { return state_ == State::closed; }
    // The close frame is out: nothing more.
    bool output_shut() const noexcept override { return state_ == State::closing_ws; }

    void login_timed_out() override {
        close_code_ = websocket::close_code::policy_error;
        begin_drain("login timeout");
    }

    void close_after(std::string_view frame, const char* reason) override {
        send_reply(frame);
        begin_drain(reason);
    }

    void progress() override {
        if (pipeline_.dispatching()) return;
        pipeline_.pump();
        if (closing()) return;
        if (pipeline_.finished()) {
            begin_drain(nullptr);
            return;
        }
        read();
    }

    // --- TLS and HTTP, before the upgrade. ---

    void start_tls() {
        if constexpr (kTls) {
            const auto timeout = core_.tls_handshake_timeout;
            if (timeout.count() > 0) tcp_layer().expires_after(timeout);
            ws_.next_layer().next_layer().async_handshake(
                ssl::stream_base::server,
                [self = shared_self()](boost::system::error_code ec) { self->on_tls(ec); });
        }
    }

    void on_tls(const boost::system::error_code& ec) {
        if (state_ == State::closed) return;
        if (ec == beast::error::timeout) return close("tls handshake timeout");
        if (ec) {
            log::write(log::Level::info, kComponent, "tls handshake failed",
                       log::Fields()
                           .add("conn", id_)
                           .add("peer", peer_)
                           .add("error", '"' + ec.message() + '"')
                           .str());
            return close(nullptr);
        }
        state_ = State::http;
        read_http();
    }

    void read_http() {
        auto& parser = http_->parser.emplace();
        parser.header_limit(kMaxHeaderBytes);
        tcp_layer().expires_after(kHttpTimeout);
        http::async_read(ws_.next_layer(), http_->buffer, parser,
                         [self = shared_self()](boost::system::error_code ec, std::size_t) {
                             self->on_http_request(ec);
                         });
    }

    void on_http_request(const boost::system::error_code& ec) {
        if (state_ == State::closed) return;
        if (ec) {
            const bool malformed =
                ec.category() == http::make_error_code(http::error::bad_target).category() ||
                ec == http::error::header_limit;
            if (ec != http::error::end_of_stream && malformed) {
                Response response =
                    error_response(http_->parser->get(), http::status::bad_request, "bad request");
                response.keep_alive(false);
                return write_http(std::move(response));
            }
            return close(nullptr);
        }
        heard_ = true;
        ++http_->requests;
        Request request = http_->parser->release();
        http_->parser.reset();
        if (websocket::is_upgrade(request)) return upgrade(std::move(request));
        Response response =
            reject_busy_ ? error_response(request, http::status::service_unavailable,
                                          peer_full_ ? "too many connections from your address"
                                                     : "too many connections; try later")
                         : answer_http(request, *settings_);
        if (reject_busy_ || http_->requests >= kMaxHttpRequests) response.keep_alive(false);
        write_http(std::move(response));
    }

    void write_http(Response response) {
        auto& out = http_->response.emplace(std::move(response));
        tcp_layer().expires_after(kHttpTimeout);
        http::async_write(ws_.next_layer(), out,
                          [self = shared_self()](boost::system::error_code ec, std::size_t) {
                              self->on_http_written(ec);
                          });
    }

    void on_http_written(const boost::system::error_code& ec) {
        if (state_ == State::closed) return;
        const bool again = !ec && http_->response->keep_alive();
        http_->response.reset();
        if (!again) {
            // Our side is done: the peer sees the end of the response, then the connection.
            boost::system::error_code ignored;
            tcp_layer().socket().shutdown(tcp::socket::shutdown_send, ignored);
            return close(nullptr);
        }
        read_http();
    }

    void upgrade(Request request) {
        if (!origin_allowed(request, *settings_)) {
            const auto origin = request.find(http::field::origin);
            log::write(log::Level::info, kComponent, "origin refused",
                       log::Fields()
                           .add("conn", id_)
                           .add("peer", peer_)
                           .add("origin", '"' + std::string(origin->value()) + '"')
                           .str());
            Response response =
                error_response(request, http::status::forbidden, "origin not allowed");
            response.keep_alive(false);
            return write_http(std::move(response));
        }
        state_ = State::upgrading;
        http_->upgrade_request = std::move(request);
        tcp_layer().expires_never();  // from here on the WebSocket's own timeouts apply
        auto timeout = websocket::stream_base::timeout::suggested(beast::role_type::server);
        if (settings_->idle_timeout.count() > 0) {
            timeout.idle_timeout = settings_->idle_timeout;
            timeout.keep_alive_pings = true;
        } else {
            timeout.idle_timeout = websocket::stream_base::none();
            timeout.keep_alive_pings = false;
        }
        ws_.set_option(timeout);
        websocket::permessage_deflate no_compression;
        no_compression.server_enable = false;
        no_compression.client_enable = false;
        ws_.set_option(no_compression);
        ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& response) {
            response.set(http::field::server, "chatd");
        }));
        // Messages are bounded by read(), which stops at max_frame and answers frame_too_large
        // before closing; Beast's own bound would close without a word.
        ws_.read_message_max(0);
        ws_.text(true);
        ws_.async_accept(
            http_->upgrade_request,
            [self = shared_self()](boost::system::error_code ec) { self->on_upgraded(ec); });
    }

    void on_upgraded(const boost::system::error_code& ec) {
        if (state_ == State::closed) return;
        http_.reset();
        if (ec) return close("websocket handshake failed");
        state_ = State::serving;
        if (reject_busy_) {
            log::write(log::Level::warn, kComponent, "connection refused",
                       log::Fields()
                           .add("peer", peer_)
                           .add("reason", peer_full_ ? "per_address" : "server_busy")
                           .str());
            close_code_ = websocket::close_code::try_again_later;
            close_after(error_frame(nullptr, make_error(Errc::server_busy,
                                                        peer_full_ ? "too many connections from "
                                                                     "your address; try later"
                                                                   : "too many connections; try "
                                                                     "later")),
                        nullptr);
            return;
        }
        log::write(log::Level::debug, kComponent, "connection open",
                   log::Fields().add("conn", id_).add("peer", peer_).str());
        arm_login_timer();
        read();
    }

    // --- Reading frames. ---

    void read() {
        if (!upgraded() || closing() || reading_ || !pipeline_.wants_input()) return;
        read_some();
    }

    // One piece of the message being read, at most up to one byte past max_frame.
    void read_some() {
        reading_ = true;
        // The rest of a message once its first piece is in: room for all of it (Beast sizes
        // these reads by what the frame has left, not by the buffer's room).
        if (!ws_.is_message_done()) message_.max_size(kMaxMessageBuffer);
        const std::size_t limit = core_.limits.max_frame + 1 - message_.size();
        ws_.async_read_some(message_, limit,
                            [self = shared_self()](boost::system::error_code ec, std::size_t) {
                                self->on_read(ec);
                            });
    }

    void on_read(const boost::system::error_code& ec) {
        reading_ = false;
        if (state_ == State::closed) return;
        if (ec) {
            if (ec == websocket::error::closed || ec == asio::error::operation_aborted) {
                return close(nullptr);  // the peer's close frame, answered by Beast
            }
            if (ec == beast::error::timeout) return close("keepalive timeout");
            // Beast has sent the close code the error calls for (1007 for text that is not
            // UTF-8, 1002 for a protocol error).
            log::write(log::Level::info, kComponent, "websocket failed",
                       log::Fields()
                           .add("conn", id_)
                           .add("peer", peer_)
                           .add("error", '"' + ec.message() + '"')
                           .str());
            return close("read failed");
        }
        if (closing()) return;
        heard_ = true;
        if (ws_.got_binary()) {
            clear_message();
            return refuse(make_error(Errc::bad_request,
                                     "binary messages carry no frames: send each frame as text"),
                          "binary message", websocket::close_code::unknown_data);
        }
        if (message_.size() > core_.limits.max_frame) {
            clear_message();
            return refuse(make_error(Errc::frame_too_large,
                                     "frame longer than " + std::to_string(core_.limits.max_frame) +
                                         " bytes"),
                          "frame too large", websocket::close_code::too_big);
        }
        if (!ws_.is_message_done()) return read_some();  // the rest of this message
        const auto bytes = message_.cdata();
        pipeline_.on_frame(std::string_view(static_cast<const char*>(bytes.data()), bytes.size()));
        clear_message();
        // Nothing more read yet: the connection may be idle for long; it keeps no message buffer.
        if (ws_.next_layer().buffered_read_bytes() == 0) {
            message_ = beast::flat_buffer();
            message_.max_size(kIdleReadBytes);
        }
        progress();
    }

    void clear_message() {
        message_.clear();
        if (message_.capacity() > kKeepBufferCapacity) message_.shrink_to_fit();
    }

    // The input ends with something that is no frame: `error` after the replies before it, then
    // the close handshake with `code`.
    void refuse(Error error, const char* reason, websocket::close_code code) {
        close_code_ = code;
        pipeline_.refuse_input(std::move(error), reason);
        progress();
    }

    // --- Writing: one WebSocket message per frame, one write in flight. ---
    //
    // The frames of a write leave as one run of WebSocket messages (ws_message.hpp) through the
    // coalescing layer, in one socket write: Beast's own writes (the handshake response, pings,
    // pongs, the close frame) go through the same layer, each whole and in order, so none can
    // land inside a message of ours. The close frame is Beast's and comes after our last write.

    void write_out(std::string_view frames) override {
        std::string framed;
        // Two bytes of header for most frames (up to ten for a long one).
        framed.reserve(frames.size() + frames.size() / 8 + 16);
        append_text_messages(framed, frames);
        ws_.next_layer().async_write_string(
            std::move(framed), [self = shared_self()](boost::system::error_code ec, std::size_t) {
                self->write_finished(ec);
            });
    }

    void output_drained() override { start_closing(); }

    // --- Timers and closing. ---

    void begin_drain(const char* reason) {
        if (closing()) return;
        state_ = State::draining;
        if (reason != nullptr) {
            log::write(log::Level::debug, kComponent, "connection closing",
                       log::Fields().add("conn", id_).add("reason", reason).str());
        }
        leave_session(true);
        login_timer_.cancel();
        pipeline_.drop_backlog();
        if (!outbound_.write_in_flight() && !outbound_.has_pending()) start_closing();
    }

    // Every last reply is out: the close frame, then the peer's, within kLingerTime.
    void start_closing() {
        if (state_ != State::draining) return;
        state_ = State::closing_ws;
        linger_timer_.expires_after(kLingerTime);
        linger_timer_.async_wait([self = shared_self()](boost::system::error_code ec) {
            if (!ec) self->close(nullptr);
        });
        ws_.async_close(
            websocket::close_reason(close_code_),
            [self = shared_self()](boost::system::error_code) { self->close(nullptr); });
    }

    void close(const char* reason) override {
        if (state_ == State::closed) return;
        const bool was_upgraded = upgraded();
        state_ = State::closed;
        leave_session(true);
        login_timer_.cancel();
        linger_timer_.cancel();
        stall_timer_.cancel();
        boost::system::error_code ignored;
        tcp_layer().socket().shutdown(tcp::socket::shutdown_both, ignored);
        tcp_layer().close();
        pipeline_.clear();
        outbound_.clear();
        // Unregister first: once the line is logged, the slot is free for a new connection.
        core_.unregister(id_, !reject_busy_, peer_address_);
        if (!reject_busy_ && was_upgraded) {
            log::Fields fields;
            fields.add("conn", id_).add("peer", peer_);
            if (reason != nullptr) fields.add("reason", reason);
            log::write(heard_ ? log::Level::info : log::Level::debug, kComponent,
                       "connection closed", fields.str());
        }
    }

    websocket::stream<NextLayer> ws_;
    const std::shared_ptr<const ServerSettings> settings_;
    asio::steady_timer linger_timer_;
    const bool reject_busy_;
    const bool peer_full_;
    bool heard_ = false;  // anything received (a silent connection closes at debug level)

    State state_;
    // Before the upgrade.
    // Before the upgrade; freed by it.
    struct HttpPhase {
        beast::flat_buffer buffer;
        std::optional<http::request_parser<http::empty_body>> parser;
        std::optional<Response> response;  // the response being written
        Request upgrade_request;           // kept until the WebSocket handshake is done
        std::size_t requests = 0;
    };
    std::unique_ptr<HttpPhase> http_ = std::make_unique<HttpPhase>();

    // Frames.
    beast::flat_buffer message_;  // the message being read, at most max_frame + 1 bytes
    bool reading_ = false;
    websocket::close_code close_code_ = websocket::close_code::normal;
};

}  // namespace

std::shared_ptr<FrameConnection> make_connection(ServerCore& core, tcp::socket socket,
                                                 std::uint64_t id, bool reject_busy, bool peer_full,
                                                 std::shared_ptr<const ServerSettings> settings) {
    if (core.tls) {
        return std::make_shared<WsConnection<beast::ssl_stream<beast::tcp_stream>>>(
            core, std::move(socket), id, reject_busy, peer_full, std::move(settings));
    }
    return std::make_shared<WsConnection<beast::tcp_stream>>(
        core, std::move(socket), id, reject_busy, peer_full, std::move(settings));
}

}  // namespace chat::ws_transport
