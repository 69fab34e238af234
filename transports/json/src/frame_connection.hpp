// FrameConnection: a server connection that carries the JSON frames of docs/protocol.md, seen
// from the parts that do not care what carries them: the op table (json_ops.hpp), the request
// pipeline (request_pipeline.hpp), the session's sink (connection_sink.hpp) and the server's
// registry of connections (server_core.hpp). JSON Lines over TCP (json_connection.hpp) and
// WebSocket messages (transports/websocket) are its two kinds.
//
// It holds what every kind has: the strand, the request pipeline, the core calls in flight
// (reply_later), the session half (the login phases, the session's sink and its pushes, the
// login timer) and the outbound half (the OutboundQueue with its bounds, held frames and
// coalesced writes, the write-stall timer, dropping a slow reader). The connection's life (its
// state, its stream, how a write reaches it, winding down and closing) is the subclass's,
// reached through the virtual hooks below.
//
// Thread use: every member function runs on the connection's strand, except start(),
// post_close(), post_sink_drain() and the completions made by reply_later(), which may be
// called from any thread and only post to the strand (or answer at once when the core
// completed inline on the strand).
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
#include "outbound_queue.hpp"
#include "request_pipeline.hpp"
#include "server_core.hpp"

namespace chat::json_transport {

namespace asio = boost::asio;
using Strand = asio::strand<asio::io_context::executor_type>;

class ConnectionSink;

class FrameConnection : public std::enable_shared_from_this<FrameConnection> {
   public:
    // `component`: the log's name for the transport, also the prefix of origin() (a literal).
    FrameConnection(ServerCore& core, std::uint64_t id, std::string_view component);
    virtual ~FrameConnection() = default;
    FrameConnection(const FrameConnection&) = delete;
    FrameConnection& operator=(const FrameConnection&) = delete;

    // Any thread: begin serving.
    virtual void start() = 0;
    // Any thread: close at once (server stop).
    virtual void post_close() = 0;

    // --- For the op table; strand only, while a request is being answered. ---
    ChatService& service() noexcept { return core_.service; }
    const Limits& limits() const noexcept { return core_.limits; }
    const std::optional<SessionId>& session() const noexcept { return session_; }
    // Unique among this server's connections (the origin of its logins for throttling).
    std::uint64_t id() const noexcept { return id_; }
    // Where this connection's requests come from, for the core's throttles and fair shares.
    Origin origin() const {
        return Origin{std::string(component_) + "#" + std::to_string(id_), peer_address_};
    }

    // Answers the request being dispatched, now.
    void reply(Result<json::object> fields) {
        pipeline_.finish(pipeline_.current(), std::move(fields));
    }
    // The same with the fields already serialized (the hot replies).
    void reply_encoded(EncodedFields fields) {
        pipeline_.finish(pipeline_.current(), Result<EncodedFields>(std::move(fields)));
    }

    // A completion for a core call that may finish on another thread: on the strand it runs
    // `encode(FrameConnection&, Result<T>)` (returning Result<json::object> or
    // Result<EncodedFields>) and answers the request that was being dispatched when the
    // completion was made.
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

   protected:
    friend class RequestPipeline;

    // --- Hooks: the subclass's state and stream (strand). ---
    // Answering no more (winding down or closed).
    virtual bool closing() const noexcept = 0;
    virtual bool closed() const noexcept = 0;
    // Our side has sent its last bytes: frames queued now are dropped without a word.
    virtual bool output_shut() const noexcept = 0;
    // Writes `bytes` (valid until then), then calls write_finished().
    virtual void write_out(std::string_view bytes) = 0;
    // Winding down, and every last reply is out: the subclass ends the connection its way.
    virtual void output_drained() = 0;
    // Sends `frame` as the last thing, then winds down.
    virtual void close_after(std::string_view frame, const char* reason) = 0;
    // Dispatch what can be, then either read more or, when the input is done, wind down.
    virtual void progress() = 0;
    // Limits::login_timeout passed without a login.
    virtual void login_timed_out() = 0;
    // Ends the connection at once.
    virtual void close(const char* reason) = 0;

    // --- For the request pipeline (strand). ---
    // No request is dispatched while this holds.
    bool outbound_full() const noexcept {
        return outbound_.bytes() > core_.limits.max_outbound_bytes;
    }
    // Queues a reply frame; false when that dropped the connection (a slow reader).
    bool send_reply(std::string_view frame) { return send(frame, false); }
    // Every request is answered: what was held for after the reply goes out now. False when
    // that dropped the connection.
    bool release_held();
    void log_error(const Error& error) const;

    // --- For the subclass (strand). ---
    bool send_push(std::string_view frame) { return send(frame, true); }
    // Starts the write from a posted handler: whatever else this round of handlers queues
    // (more replies, more pushes) leaves in the same write.
    void schedule_write();
    // The write write_out() started has ended: the next one, or the drain, or more requests.
    void write_finished(const boost::system::error_code& ec);
    void drop_slow_reader(const char* why);
    // Forgets the session here (its sink goes inert); `logout`: ends it in the core too.
    void leave_session(bool logout);
    void arm_login_timer();

    // Declared first, released last: keeps the io_context alive for the strand, the stream and
    // the timers.
    std::shared_ptr<ServerCore> keep_core_;
    ServerCore& core_;
    Strand strand_;
    const std::uint64_t id_;
    const std::string_view component_;
    std::string peer_;                  // address:port, for the log (set by the subclass)
    std::string peer_address_;          // address only (set by the subclass)
    std::optional<SessionId> session_;  // set exactly while logged in
    RequestPipeline pipeline_;
    OutboundQueue outbound_;
    asio::steady_timer login_timer_;
    asio::steady_timer stall_timer_;  // a write that does not finish in time drops the connection

   private:
    bool send(std::string_view frame, bool is_push);
    // Hands everything queued to write_out(), timed by the stall timer.
    void start_write();
    // Times the write in flight against Limits::write_stall_timeout.
    void arm_stall_timer();
    void on_sink_drain(const std::shared_ptr<ConnectionSink>& sink);

    bool logging_in_ = false;       // a login is with the core: its pushes wait for the reply
    bool write_scheduled_ = false;  // a handler that starts the write is posted
    bool stall_armed_ = false;      // the stall timer is waiting
    std::shared_ptr<ConnectionSink> sink_;
    std::string push_batch_;  // pushes taken from the sink, being enqueued
};

template <class T, class Encode>
ChatService::Done<T> FrameConnection::reply_later(Encode encode) {
    core_.begin_inflight();
    return [self = shared_from_this(), encode = std::move(encode),
            seq = pipeline_.current()](Result<T> result) mutable {
        // Hand our reference on, so that nothing of the connection is owned by this function
        // object once the server stops waiting for it.
        std::shared_ptr<FrameConnection> connection = std::move(self);
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
