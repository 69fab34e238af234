// One client connection of the JSON server, and the state its server shares with it.
//
// A Connection reads frames through a bounded LineFramer, answers requests strictly one after
// another (reading ahead meanwhile, within a bound), and writes replies and pushes through one
// outbound buffer with at most one async_write in flight, so pending frames leave together.
// Replies therefore leave in request order even though login/create/delete complete on the
// core's hashing pool and send on the store's writer thread.
//
// Thread use: every member function runs on the connection's strand, except start(),
// post_close(), post_sink_frame() and the completion functions handed to ChatService
// (reply_later), which may be called from any thread and only post to the strand. The
// ConnectionSink attached to a session is called by the core from any thread and also only posts.
#pragma once

#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "chat/chat_service.hpp"
#include "chat/limits.hpp"
#include "chat/sink.hpp"
#include "codec.hpp"
#include "line_framer.hpp"

namespace chat::json_transport {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Strand = asio::strand<asio::io_context::executor_type>;

class Connection;

// What a server and its connections share. Owned by the server; outlives every connection
// callback because the server's stop() waits for in-flight core calls and open connections.
// Thread use: the mutex guards `connections`, `stopping`, `inflight`; the rest is immutable
// after construction or atomic.
struct ServerCore {
    ServerCore(ChatService& svc, Limits lim) : service(svc), limits(lim) {}

    ChatService& service;
    const Limits limits;
    asio::io_context ioc;

    std::mutex mutex;
    std::condition_variable changed;  // a connection closed or an in-flight call completed
    std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> connections;
    std::size_t inflight = 0;  // core calls whose completion has not yet been posted
    std::size_t live = 0;      // connections counted against Limits::max_connections
    bool stopping = false;
    std::uint64_t next_connection_id = 1;

    void begin_inflight();
    void end_inflight();
    void unregister(std::uint64_t id, bool counted);
};

// The Sink of one session on one connection: encodes the push on the core's thread and posts it
// to the connection's strand. detach() (from the strand) makes it inert for good.
class ConnectionSink final : public Sink {
   public:
    ConnectionSink(std::weak_ptr<Connection> connection, std::uint64_t generation)
        : connection_(std::move(connection)), generation_(generation) {}

    void deliver(const Message& message) override;
    void logged_out(LogoutReason reason) override;
    void detach();

   private:
    void post(std::string frame, bool ends_session);

    std::mutex mutex_;
    std::weak_ptr<Connection> connection_;
    const std::uint64_t generation_;
};

class Connection final : public std::enable_shared_from_this<Connection> {
   public:
    // `reject_busy`: the server is full; this connection only gets a server_busy line.
    Connection(ServerCore& core, tcp::socket socket, std::uint64_t id, bool reject_busy);

    // Any thread: begin serving.
    void start();
    // Any thread: close at once (server stop).
    void post_close();

    // --- For the op table; strand only, while a request is being answered. ---
    ChatService& service() noexcept { return core_.service; }
    const Limits& limits() const noexcept { return core_.limits; }
    const std::optional<SessionId>& session() const noexcept { return session_; }

    // Answers the current request now.
    void reply(Result<json::object> fields);

    // A completion for a core call that finishes on another thread: it posts to the strand, runs
    // `encode(Connection&, Result<T>) -> Result<json::object>` there and answers the request.
    template <class T, class Encode>
    ChatService::Done<T> reply_later(Encode encode);

    // Login: a fresh sink for the new session; pushes are held back until the reply is out.
    std::shared_ptr<Sink> begin_login();
    void end_login(const Result<LoginResult>& result);
    // The session ended by logout (any outcome: the core no longer knows it).
    void session_logged_out();
    // The account of this session was deleted: the reply goes out, then the logged_out event.
    void session_deleted();

    // --- For ConnectionSink. ---
    void post_sink_frame(std::uint64_t generation, std::string frame, bool ends_session);

   private:
    struct Pending {
        std::string frame;
        bool too_large = false;
    };

    // Reading.
    void do_read();
    void on_readable(const boost::system::error_code& ec);
    void on_bytes(std::string_view bytes);
    bool backlog_full() const noexcept;
    void pump();
    void dispatch(std::string_view frame);
    void finish(Result<json::object> fields);

    // Writing.
    void enqueue(std::string_view frame, bool is_push);
    void start_write();
    void on_written(const boost::system::error_code& ec);
    std::size_t outbound_bytes() const noexcept { return pending_.size() + writing_.size(); }

    // Closing.
    void begin_drain(const char* reason);
    void start_linger();
    void close(const char* reason);
    void end_session();
    void arm_login_timer();

    void on_sink_frame(std::uint64_t generation, std::string frame, bool ends_session);
    void log_error(const Error& error) const;
    bool take_token();

    ServerCore& core_;
    tcp::socket socket_;
    Strand strand_;
    asio::steady_timer login_timer_;
    asio::steady_timer linger_timer_;
    const std::uint64_t id_;
    const bool reject_busy_;
    std::string peer_;

    // Input.
    LineFramer framer_;
    json::parser parser_;
    std::deque<Pending> backlog_;
    std::size_t backlog_bytes_ = 0;
    bool reading_ = false;       // an async_wait for input is in flight
    bool read_stopped_ = false;  // EOF seen or input refused (too large)
    bool busy_ = false;          // a request is being answered
    bool in_pump_ = false;
    json::value current_id_;

    // Output.
    std::string pending_;  // frames waiting for the next write
    std::string writing_;  // frames of the write in flight
    std::size_t pending_push_bytes_ = 0;
    std::size_t writing_push_bytes_ = 0;
    bool write_in_flight_ = false;

    // Session.
    std::optional<SessionId> session_;
    std::shared_ptr<ConnectionSink> sink_;
    std::uint64_t sink_generation_ = 0;
    bool hold_pushes_ = false;       // a login is in progress
    std::vector<std::string> held_;  // pushes and events to send after the current reply

    // Rate limit (token bucket).
    double tokens_ = 0;
    std::chrono::steady_clock::time_point last_refill_;

    // Lifecycle.
    bool draining_ = false;  // answering no more; flush, half-close, linger, close
    bool lingering_ = false;
    bool closed_ = false;
    std::size_t linger_discarded_ = 0;
};

template <class T, class Encode>
ChatService::Done<T> Connection::reply_later(Encode encode) {
    core_.begin_inflight();
    return [self = shared_from_this(), encode = std::move(encode)](Result<T> result) mutable {
        // Hand our reference to the posted handler, so that nothing of the connection is owned
        // by this function object once the server stops waiting for it.
        std::shared_ptr<Connection> connection = std::move(self);
        ServerCore& core = connection->core_;
        {
            // The executor copy must be gone before end_inflight(): after it the server may be
            // destroyed.
            Strand strand = connection->strand_;
            asio::post(strand, [connection = std::move(connection), encode = std::move(encode),
                                result = std::move(result)]() mutable {
                auto fields = encode(*connection, std::move(result));
                connection->finish(std::move(fields));
            });
        }
        core.end_inflight();
    };
}

}  // namespace chat::json_transport
