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
// Thread use: every member function runs on the connection's strand, except start(),
// post_close(), post_sink_drain() and the completion functions handed to ChatService
// (reply_later), which may be called from any thread and only post to the strand (or answer at
// once when the core completed inline on the strand). The ConnectionSink attached to a session
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
#include "json_stream.hpp"
#include "outbound_queue.hpp"
#include "request_pipeline.hpp"
#include "server_core.hpp"

namespace chat::json_transport {

class Connection final : public std::enable_shared_from_this<Connection> {
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

    // Any thread: begin serving (TLS: after the handshake).
    void start();
    // Any thread: close at once (server stop).
    void post_close();

    // --- For the op table; strand only, while a request is being answered. ---
    ChatService& service() noexcept { return core_.service; }
    const Limits& limits() const noexcept { return core_.limits; }
    const std::optional<SessionId>& session() const noexcept { return session_; }
    // Unique among this server's connections (the origin of its logins for throttling).
    std::uint64_t id() const noexcept { return id_; }
    // Where this connection's requests come from, for the core's throttles and fair shares.
    Origin origin() const { return Origin{"json#" + std::to_string(id_), peer_address_}; }

    // Answers the request being dispatched, now.
    void reply(Result<json::object> fields) {
        pipeline_.finish(pipeline_.current(), std::move(fields));
    }
    // The same with the fields already serialized (the hot replies).
    void reply_encoded(EncodedFields fields) {
        pipeline_.finish(pipeline_.current(), Result<EncodedFields>(std::move(fields)));
    }

    // A completion for a core call that may finish on another thread: on the strand it runs
    // `encode(Connection&, Result<T>)` (returning Result<json::object> or Result<EncodedFields>)
    // and answers the request that was being dispatched when the completion was made.
    template <class T, class Encode>
    ChatService::Done<T> reply_later(Encode encode);

    // Login: a fresh sink for the new session; pushes are held back until the reply is out.
    std::shared_ptr<Sink> begin_login();
    void end_login(const Result<LoginResult>& result);
    // The session ended by logout (any outcome: the core no longer knows it).
    void session_logged_out();
    // The account of this session was deleted: the reply goes out, then the logged_out event.
    void session_deleted();

    // --- For ConnectionSink (any thread). ---
    void post_sink_drain(std::shared_ptr<ConnectionSink> sink);

   private:
    friend class RequestPipeline;

    // --- For the request pipeline (strand). ---
    bool closing() const noexcept {
        return state_ == State::draining || state_ == State::lingering || state_ == State::closed;
    }
    // No request is dispatched while this holds.
    bool outbound_full() const noexcept {
        return outbound_.bytes() > core_.limits.max_outbound_bytes;
    }
    // Queues a reply or a push; false when that dropped the connection (a slow reader).
    bool send_reply(std::string_view frame) { return send(frame, false); }
    bool send_push(std::string_view frame) { return send(frame, true); }
    // Every request is answered: what was held for after the reply goes out now. False when
    // that dropped the connection.
    bool release_held();
    // Sends `frame` as the last thing, then winds down.
    void close_after(std::string_view frame, const char* reason);
    // Dispatch what can be, then either read more or, when the input is done, wind down.
    void progress();
    void log_error(const Error& error) const;

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

    // Declared first, released last: keeps the io_context alive for the socket and timers.
    std::shared_ptr<ServerCore> keep_core_;
    ServerCore& core_;
    Strand strand_;
    ByteStream stream_;
    asio::steady_timer login_timer_;
    asio::steady_timer linger_timer_;
    asio::steady_timer stall_timer_;  // a write that does not finish in time closes the connection
    const std::uint64_t id_;
    const bool reject_busy_;
    bool heard_ = false;  // any byte received (a silent connection closes at debug level)
    const bool peer_full_;
    const std::string peer_;          // address:port, for the log
    const std::string peer_address_;  // address only

    State state_;
    RequestPipeline pipeline_;
    OutboundQueue outbound_;
    bool write_scheduled_ = false;  // a handler that starts the write is posted
    bool stall_armed_ = false;      // the stall timer is waiting

    std::optional<SessionId> session_;  // set exactly while logged_in
    std::shared_ptr<ConnectionSink> sink_;
    std::string push_batch_;  // pushes taken from the sink, being enqueued
};

template <class T, class Encode>
ChatService::Done<T> Connection::reply_later(Encode encode) {
    core_.begin_inflight();
    return [self = shared_from_this(), encode = std::move(encode),
            seq = pipeline_.current()](Result<T> result) mutable {
        // Hand our reference on, so that nothing of the connection is owned by this function
        // object once the server stops waiting for it.
        std::shared_ptr<Connection> connection = std::move(self);
        ServerCore& core = connection->core_;
        if (connection->strand_.running_in_this_thread()) {
            // The core completed inline (MemoryStore, hashing without a pool): answer now rather
            // than after another trip round the event loop.
            auto fields = encode(*connection, std::move(result));
            connection->pipeline_.finish(seq, std::move(fields));
            connection.reset();
            core.end_inflight();
            return;
        }
        {
            // The executor copy must be gone before end_inflight(): after it the server may be
            // destroyed.
            Strand strand = connection->strand_;
            asio::post(strand, [connection = std::move(connection), encode = std::move(encode), seq,
                                result = std::move(result)]() mutable {
                auto fields = encode(*connection, std::move(result));
                connection->pipeline_.finish(seq, std::move(fields));
            });
        }
        core.end_inflight();
    };
}

}  // namespace chat::json_transport
