// FrameConnection: a server connection that carries the JSON frames of docs/protocol.md, seen
// from the parts that do not care what carries them: the op table (json_ops.hpp), the request
// pipeline (request_pipeline.hpp), the session's sink (connection_sink.hpp) and the server's
// registry of connections (server_core.hpp). JSON Lines over TCP (json_connection.hpp) and
// WebSocket messages (transports/websocket) are its two kinds.
//
// It holds what every kind has: the strand, the request pipeline, the session and the core
// calls in flight (reply_later). The connection's life (its state, stream, timers and writes)
// is the subclass's, reached through the virtual hooks below.
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
#include <string_view>

#include "chat/chat_service.hpp"
#include "chat/limits.hpp"
#include "chat/sink.hpp"
#include "codec.hpp"
#include "request_pipeline.hpp"
#include "server_core.hpp"

namespace chat::json_transport {

namespace asio = boost::asio;
using Strand = asio::strand<asio::io_context::executor_type>;

class ConnectionSink;

class FrameConnection : public std::enable_shared_from_this<FrameConnection> {
   public:
    FrameConnection(ServerCore& core, std::uint64_t id)
        : keep_core_(core.shared_from_this()),
          core_(core),
          strand_(asio::make_strand(core.ioc)),
          id_(id),
          pipeline_(*this, core.limits) {}
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
    virtual Origin origin() const = 0;

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
    virtual std::shared_ptr<Sink> begin_login() = 0;
    virtual void end_login(const Result<LoginResult>& result) = 0;
    // The session ended by logout (any outcome: the core no longer knows it).
    virtual void session_logged_out() = 0;
    // The account of this session was deleted: the reply goes out, then the logged_out event.
    virtual void session_deleted() = 0;

    // --- For ConnectionSink (any thread). ---
    virtual void post_sink_drain(std::shared_ptr<ConnectionSink> sink) = 0;

   protected:
    friend class RequestPipeline;

    // --- For the request pipeline (strand). ---
    // Answering no more (winding down or closed).
    virtual bool closing() const noexcept = 0;
    // No request is dispatched while this holds.
    virtual bool outbound_full() const noexcept = 0;
    // Queues a reply frame; false when that dropped the connection (a slow reader).
    virtual bool send_reply(std::string_view frame) = 0;
    // Every request is answered: what was held for after the reply goes out now. False when
    // that dropped the connection.
    virtual bool release_held() = 0;
    // Sends `frame` as the last thing, then winds down.
    virtual void close_after(std::string_view frame, const char* reason) = 0;
    // Dispatch what can be, then either read more or, when the input is done, wind down.
    virtual void progress() = 0;
    virtual void log_error(const Error& error) const = 0;

    // Declared first, released last: keeps the io_context alive for the strand, the stream and
    // the timers of the subclass.
    std::shared_ptr<ServerCore> keep_core_;
    ServerCore& core_;
    Strand strand_;
    const std::uint64_t id_;
    std::optional<SessionId> session_;  // set exactly while logged in
    RequestPipeline pipeline_;
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
