// Connection: one client connection of the JSON server, the part that ties the others together
// and owns the connection's life: its state, its session, its timers and its writes.
//
//   ByteStream       (json_stream.hpp)       plain TCP or TLS bytes, one read path, the linger
//   RequestPipeline  (request_pipeline.hpp)  frames -> checks -> rate limit -> ops -> replies
//   OutboundQueue    (outbound_queue.hpp)    coalesced writes, the outbound bounds, held pushes
//   ConnectionSink   (connection_sink.hpp)   the session's pushes from the core
//
// A connection goes handshaking (TLS only) -> anonymous -> logging_in -> logged_in; a failed
// login and a logout lead back to anonymous. It ends draining -> lingering -> closed, and
// close() ends any state at once.
// One write is in flight at a time, started from a posted handler, so everything queued
// meanwhile leaves in one write; a write that makes no progress for
// Limits::write_stall_timeout drops the connection, as does passing an outbound bound. A
// connection that does not log in within Limits::login_timeout is closed (docs/protocol.md,
// "Limits and protection").
//
// Thread use: as FrameConnection (frame_connection.hpp), whose hooks it implements. The
// ConnectionSink attached to a session
// is called by the core from any thread: it encodes each push into its own inbox and posts one
// drain per batch.
#pragma once

#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "chat/chat_service.hpp"
#include "chat/limits.hpp"
#include "chat/sink.hpp"
#include "codec.hpp"
#include "connection_sink.hpp"
#include "frame_connection.hpp"
#include "json_stream.hpp"
#include "outbound_queue.hpp"
#include "request_pipeline.hpp"
#include "server_core.hpp"

namespace chat::json_transport {

class Connection final : public FrameConnection {
   public:
    enum class State {
        handshaking,  // TLS: the handshake is not done yet
        anonymous,    // serving, no session
        logging_in,   // a login is with the core: its pushes wait for the reply
        logged_in,    // serving a session
        draining,     // answering no more: the last replies go out
        lingering,    // our side is shut; waiting for the peer to hang up
        closed,
    };

    // `reject_busy`: the server is full (or, with `peer_full`, full for this peer address); this
    // connection only gets a server_busy line.
    Connection(ServerCore& core, tcp::socket socket, std::uint64_t id, bool reject_busy,
               bool peer_full = false);

    void start() override;
    void post_close() override;

    Origin origin() const override { return Origin{"json#" + std::to_string(id_), peer_address_}; }
    std::shared_ptr<Sink> begin_login() override;
    void end_login(const Result<LoginResult>& result) override;
    void session_logged_out() override;
    void session_deleted() override;
    void post_sink_drain(std::shared_ptr<ConnectionSink> sink) override;

   private:
    std::shared_ptr<Connection> shared_self() {
        return std::static_pointer_cast<Connection>(shared_from_this());
    }

    // --- For the request pipeline (strand). ---
    bool closing() const noexcept override {
        return state_ == State::draining || state_ == State::lingering || state_ == State::closed;
    }
    bool outbound_full() const noexcept override {
        return outbound_.bytes() > core_.limits.max_outbound_bytes;
    }
    bool send_reply(std::string_view frame) override { return send(frame, false); }
    bool send_push(std::string_view frame) { return send(frame, true); }
    bool release_held() override;
    void close_after(std::string_view frame, const char* reason) override;
    void progress() override;
    void log_error(const Error& error) const override;

    // Starting and reading.
    void on_handshake(ByteStream::HandshakeStatus status, const boost::system::error_code& ec);
    void serve();
    void read();
    void on_read(ByteStream::ReadStatus status, std::string_view bytes);

    // Writing.
    bool send(std::string_view frame, bool is_push);
    void schedule_write();
    void start_write();
    void on_written(const boost::system::error_code& ec);
    void arm_stall_timer();
    void drop_slow_reader(const char* why);

    // Sessions and closing.
    void on_sink_drain(const std::shared_ptr<ConnectionSink>& sink);
    // Forgets the session here (its sink goes inert); `logout`: ends it in the core too.
    void leave_session(bool logout);
    void arm_login_timer();
    void begin_drain(const char* reason);
    void start_linger();
    void close(const char* reason);

    ByteStream stream_;
    asio::steady_timer login_timer_;
    asio::steady_timer linger_timer_;
    asio::steady_timer stall_timer_;  // a write that does not finish in time closes the connection
    const bool reject_busy_;
    bool heard_ = false;  // any byte received (a silent connection closes at debug level)
    const bool peer_full_;
    const std::string peer_;          // address:port, for the log
    const std::string peer_address_;  // address only

    State state_;
    OutboundQueue outbound_;
    bool write_scheduled_ = false;  // a handler that starts the write is posted
    bool stall_armed_ = false;      // the stall timer is waiting

    std::shared_ptr<ConnectionSink> sink_;
    std::string push_batch_;  // pushes taken from the sink, being enqueued
};

}  // namespace chat::json_transport
