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
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "chat/log.hpp"
#include "codec.hpp"
#include "connection_sink.hpp"
#include "http_site.hpp"
#include "outbound_queue.hpp"

namespace chat::ws_transport {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using json_transport::ConnectionSink;
using json_transport::error_frame;
using json_transport::FrameConnection;
using json_transport::logged_out_event_frame;
using json_transport::OutboundQueue;
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

template <class NextLayer>
class WsConnection final : public FrameConnection {
   public:
    static constexpr bool kTls = !std::is_same_v<NextLayer, beast::tcp_stream>;

    enum class State {
        handshaking,  // TLS: the handshake is not done yet
        http,         // plain HTTP requests
        upgrading,    // the WebSocket handshake is under way
        anonymous,    // serving frames, no session
        logging_in,   // a login is with the core: its pushes wait for the reply
        logged_in,    // serving a session
        draining,     // answering no more: the last replies go out
        closing_ws,   // the close handshake is under way
        closed,
    };

    WsConnection(ServerCore& core, tcp::socket socket, std::uint64_t id, bool reject_busy,
                 bool peer_full, std::shared_ptr<const ServerSettings> settings)
        : FrameConnection(core, id),
          ws_(open_stream(rebind(std::move(socket), strand_), core)),
          settings_(std::move(settings)),
          login_timer_(strand_),
          linger_timer_(strand_),
          stall_timer_(strand_),
          reject_busy_(reject_busy),
          peer_full_(peer_full),
          peer_(peer_of(ws_, false)),
          peer_address_(peer_of(ws_, true)),
          state_(kTls ? State::handshaking : State::http),
          outbound_(core.outbound_budget, core.limits) {}

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

    Origin origin() const override { return Origin{"ws#" + std::to_string(id_), peer_address_}; }

    // --- Sessions (strand). ---

    std::shared_ptr<Sink> begin_login() override {
        if (sink_) sink_->detach();
        sink_ = std::make_shared<ConnectionSink>(weak_from_this(), core_.limits.max_outbound_bytes);
        state_ = State::logging_in;
        return sink_;
    }

    void end_login(const Result<LoginResult>& result) override {
        if (closing()) {
            // The connection went away while the password was being checked.
            if (result.ok()) (void)core_.service.logout(result->session);
            return;
        }
        state_ = State::anonymous;
        if (result.ok() && !sink_) {
            // The session ended (its account was deleted) before this reply: the held
            // logged_out event follows the reply, and the connection stays logged out.
            (void)core_.service.logout(result->session);
            return;
        }
        if (!result.ok()) {
            leave_session(false);
            outbound_.drop_held();
            return;
        }
        session_ = result->session;
        state_ = State::logged_in;
        login_timer_.cancel();
        log::write(log::Level::debug, kComponent, "logged in",
                   log::Fields().add("conn", id_).add("user", result->username).str());
    }

    void session_logged_out() override {
        leave_session(false);
        // A login in progress stays in progress: its reply (and what is held for it) is due.
        if (state_ == State::logged_in) state_ = State::anonymous;
        arm_login_timer();
    }

    void session_deleted() override {
        session_logged_out();
        // The core also tells our (now detached) sink; this copy keeps the event right after
        // the reply, whatever the threads do.
        outbound_.hold(logged_out_event_frame(LogoutReason::account_deleted));
    }

    void post_sink_drain(std::shared_ptr<ConnectionSink> sink) override {
        asio::post(strand_,
                   [self = shared_self(), sink = std::move(sink)] { self->on_sink_drain(sink); });
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

    // --- For the request pipeline (strand). ---

    bool closing() const noexcept override {
        return state_ == State::draining || state_ == State::closing_ws || state_ == State::closed;
    }
    bool outbound_full() const noexcept override {
        return outbound_.bytes() > core_.limits.max_outbound_bytes;
    }
    bool send_reply(std::string_view frame) override { return send(frame, false); }
    bool send_push(std::string_view frame) { return send(frame, true); }

    bool release_held() override {
        for (const std::string& frame : outbound_.take_held()) {
            if (!send_push(frame)) return false;
        }
        return true;
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

    void log_error(const Error& error) const override {
        log::Level level = log::Level::debug;
        if (error.code == Errc::internal) level = log::Level::error;
        if (error.code == Errc::frame_too_large) level = log::Level::warn;
        if (!log::enabled(level)) return;
        log::write(level, kComponent, "request failed",
                   log::Fields()
                       .add("conn", id_)
                       .add("peer", peer_)
                       .add("code", to_string(error.code))
                       .add("error", '"' + error.message + '"')
                       .str());
    }

    // --- TLS and HTTP, before the upgrade. ---

    void start_tls() {
        if constexpr (kTls) {
            const auto timeout = core_.tls_handshake_timeout;
            if (timeout.count() > 0) tcp_layer().expires_after(timeout);
            ws_.next_layer().async_handshake(
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
        parser_.emplace();
        parser_->header_limit(kMaxHeaderBytes);
        tcp_layer().expires_after(kHttpTimeout);
        http::async_read(ws_.next_layer(), http_buffer_, *parser_,
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
                    error_response(parser_->get(), http::status::bad_request, "bad request");
                response.keep_alive(false);
                return write_http(std::move(response));
            }
            return close(nullptr);
        }
        heard_ = true;
        ++http_requests_;
        Request request = parser_->release();
        parser_.reset();
        if (websocket::is_upgrade(request)) return upgrade(std::move(request));
        Response response =
            reject_busy_ ? error_response(request, http::status::service_unavailable,
                                          peer_full_ ? "too many connections from your address"
                                                     : "too many connections; try later")
                         : answer_http(request, *settings_);
        if (reject_busy_ || http_requests_ >= kMaxHttpRequests) response.keep_alive(false);
        write_http(std::move(response));
    }

    void write_http(Response response) {
        response_.emplace(std::move(response));
        tcp_layer().expires_after(kHttpTimeout);
        http::async_write(ws_.next_layer(), *response_,
                          [self = shared_self()](boost::system::error_code ec, std::size_t) {
                              self->on_http_written(ec);
                          });
    }

    void on_http_written(const boost::system::error_code& ec) {
        if (state_ == State::closed) return;
        const bool again = !ec && response_->keep_alive();
        response_.reset();
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
        upgrade_request_ = std::move(request);
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
        ws_.async_accept(upgrade_request_, [self = shared_self()](boost::system::error_code ec) {
            self->on_upgraded(ec);
        });
    }

    void on_upgraded(const boost::system::error_code& ec) {
        if (state_ == State::closed) return;
        upgrade_request_ = {};
        http_buffer_ = beast::flat_buffer();
        if (ec) return close("websocket handshake failed");
        state_ = State::anonymous;
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

    bool send(std::string_view frame, bool is_push) {
        if (state_ == State::closed) return false;
        if (state_ == State::closing_ws) return true;  // the close frame is out: nothing more
        const char* refusal = is_push ? outbound_.add_push(frame) : outbound_.add_reply(frame);
        if (refusal != nullptr) {
            drop_slow_reader(refusal);
            return false;
        }
        schedule_write();
        return true;
    }

    void schedule_write() {
        if (outbound_.write_in_flight() || write_scheduled_) return;
        // From a posted handler: whatever else this round of handlers queues leaves with it.
        write_scheduled_ = true;
        asio::post(strand_, [self = shared_self()] {
            self->write_scheduled_ = false;
            if (self->state_ != State::closed && !self->outbound_.write_in_flight() &&
                self->outbound_.has_pending()) {
                self->start_write();
            }
        });
    }

    void start_write() {
        writing_ = outbound_.start_write(std::chrono::steady_clock::now());
        arm_stall_timer();
        write_next();
    }

    // The queue holds frames that each end in '\n' (JSON escapes newlines inside strings); each
    // goes out as one text message, without it.
    void write_next() {
        const std::size_t newline = writing_.find('\n');
        const std::string_view frame = writing_.substr(0, newline);
        writing_.remove_prefix(newline == std::string_view::npos ? writing_.size() : newline + 1);
        ws_.async_write(asio::buffer(frame.data(), frame.size()),
                        [self = shared_self()](boost::system::error_code ec, std::size_t) {
                            if (!ec && !self->writing_.empty() && self->state_ != State::closed) {
                                return self->write_next();
                            }
                            self->on_written(ec);
                        });
    }

    void on_written(const boost::system::error_code& ec) {
        writing_ = {};
        outbound_.write_done(state_ != State::closed && !ec);
        if (state_ == State::closed) return;
        if (ec) return close(ec == asio::error::operation_aborted ? nullptr : "write failed");
        if (outbound_.has_pending()) return start_write();
        if (closing()) return start_closing();
        progress();  // a request may have been waiting for the outbound buffer to drain
    }

    void arm_stall_timer() {
        const auto timeout = core_.limits.write_stall_timeout;
        if (stall_armed_ || timeout.count() <= 0 || state_ == State::closed) return;
        stall_armed_ = true;
        stall_timer_.expires_at(outbound_.write_started() + timeout);
        stall_timer_.async_wait([self = shared_self()](boost::system::error_code ec) {
            self->stall_armed_ = false;
            if (ec || self->state_ == State::closed || !self->outbound_.write_in_flight()) return;
            if (self->outbound_.stalled(std::chrono::steady_clock::now(),
                                        self->core_.limits.write_stall_timeout)) {
                // The peer does not read. Its unacknowledged messages stay queued.
                return self->drop_slow_reader("write stalled");
            }
            self->arm_stall_timer();  // a later write is in flight: time that one
        });
    }

    void drop_slow_reader(const char* why) {
        log::write(log::Level::warn, kComponent, "slow reader dropped",
                   log::Fields()
                       .add("conn", id_)
                       .add("peer", peer_)
                       .add("reason", '"' + std::string(why) + '"')
                       .add("outbound_bytes", outbound_.bytes())
                       .str());
        close(why);
    }

    // --- Pushes and the session. ---

    void on_sink_drain(const std::shared_ptr<ConnectionSink>& sink) {
        const ConnectionSink::Batch batch = sink->take(push_batch_);
        if (closing() || sink_ != sink) {
            push_batch_.clear();
            return;
        }
        if (batch.overflow) {
            push_batch_.clear();
            return drop_slow_reader("outbound queue full");
        }
        // Another connection deleted the account; the core has already ended the session.
        if (batch.ends_session) session_logged_out();
        if (!push_batch_.empty()) {
            if (state_ == State::logging_in) {
                outbound_.hold(push_batch_);
            } else {
                send_push(push_batch_);
            }
        }
        if (push_batch_.capacity() > kKeepBufferCapacity) {
            std::string().swap(push_batch_);
        } else {
            push_batch_.clear();
        }
    }

    void leave_session(bool logout) {
        if (sink_) {
            sink_->detach();
            sink_.reset();
        }
        if (session_ && logout) (void)core_.service.logout(*session_);
        session_.reset();
    }

    // --- Timers and closing. ---

    void arm_login_timer() {
        if (core_.limits.login_timeout.count() <= 0 || closing()) return;
        login_timer_.expires_after(core_.limits.login_timeout);
        login_timer_.async_wait([self = shared_self()](boost::system::error_code ec) {
            if (ec || self->closing() || self->session_) return;
            if (!self->pipeline_.idle()) {
                self->arm_login_timer();  // a login may be waiting for the hashing pool
                return;
            }
            self->close_code_ = websocket::close_code::policy_error;
            self->begin_drain("login timeout");
        });
    }

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

    void close(const char* reason) {
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
    asio::steady_timer login_timer_;
    asio::steady_timer linger_timer_;
    asio::steady_timer stall_timer_;
    const bool reject_busy_;
    const bool peer_full_;
    bool heard_ = false;      // anything received (a silent connection closes at debug level)
    const std::string peer_;  // address:port, for the log
    const std::string peer_address_;  // address only

    State state_;
    // Before the upgrade.
    beast::flat_buffer http_buffer_;
    std::optional<http::request_parser<http::empty_body>> parser_;
    std::optional<Response> response_;  // the response being written
    Request upgrade_request_;           // kept until the WebSocket handshake is done
    std::size_t http_requests_ = 0;

    // Frames.
    beast::flat_buffer message_;  // the message being read, at most max_frame + 1 bytes
    bool reading_ = false;
    websocket::close_code close_code_ = websocket::close_code::normal;
    OutboundQueue outbound_;
    std::string_view writing_;  // what is left of the write in flight (in outbound_)
    bool write_scheduled_ = false;
    bool stall_armed_ = false;

    std::shared_ptr<ConnectionSink> sink_;
    std::string push_batch_;  // pushes taken from the sink, being enqueued
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
