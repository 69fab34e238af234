// One client connection of the JSON server, and the state its server shares with it.
//
// A Connection reads frames through a bounded LineFramer and answers them in request order.
// Sends are pipelined: up to kMaxPipelined of them may be with the core at once (so a burst
// shares one SQLite group commit), each holding a reply slot, and replies leave strictly in slot
// order. Every other op is a barrier: it starts only when nothing is in flight and nothing starts
// until it is answered, so a request always sees the effects of the ones before it. Replies and
// pushes go through one outbound buffer with at most one async_write in flight; a write starts
// from a posted handler, so everything queued meanwhile leaves in one write.
//
// On a TLS server a connection first completes the TLS handshake (bounded in time), then moves
// the same bytes through OpenSSL; everything above the byte stream is shared with plain TCP,
// whose path stays as it was (readiness wait plus a read into a per-thread buffer).
//
// Thread use: every member function runs on the connection's strand, except start(),
// post_close(), post_sink_drain() and the completion functions handed to ChatService
// (reply_later), which may be called from any thread and only post to the strand (or answer at
// once when the core completed inline on the strand). The ConnectionSink attached to a session
// is called by the core from any thread: it encodes each push into its own inbox and posts one
// drain per batch.
#pragma once

#include <array>
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
#include <vector>

#include "chat/chat_service.hpp"
#include "chat/limits.hpp"
#include "chat/outbound_budget.hpp"
#include "chat/sink.hpp"
#include "chat/token_bucket.hpp"
#include "codec.hpp"
#include "line_framer.hpp"
#include "tls_context.hpp"

namespace chat::json_transport {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Strand = asio::strand<asio::io_context::executor_type>;

class Connection;

// What a server and its connections share. Owned by the server; outlives every connection
// callback because the server's stop() waits for in-flight core calls and open connections.
// Thread use: the mutex guards `connections`, `stopping`, `inflight`; the rest is immutable
// after construction or atomic.
struct ServerCore : std::enable_shared_from_this<ServerCore> {
    ServerCore(ChatService& svc, Limits lim, std::shared_ptr<OutboundBudget> budget = nullptr)
        : service(svc), limits(lim), outbound_budget(std::move(budget)) {}

    ChatService& service;
    const Limits limits;
    const std::shared_ptr<OutboundBudget> outbound_budget;  // every connection's bytes to send
    asio::io_context ioc;
    // TLS: set by the server before it accepts anything, then read-only. Null: plain TCP.
    std::unique_ptr<ssl::context> tls;
    std::chrono::milliseconds tls_handshake_timeout{0};  // 0: no limit

    std::mutex mutex;
    std::condition_variable changed;  // a connection closed or an in-flight call completed
    std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> connections;
    std::size_t inflight = 0;  // core calls whose completion has not yet been posted
    std::size_t live = 0;      // connections counted against Limits::max_connections
    std::unordered_map<std::string, std::size_t> per_address;  // counted connections by address
    bool stopping = false;
    std::uint64_t next_connection_id = 1;

    void begin_inflight();
    void end_inflight();
    void unregister(std::uint64_t id, bool counted, const std::string& address);
};

// The Sink of one session on one connection. deliver() encodes the push once, straight into an
// inbox, and posts a drain to the connection's strand only when none is pending, so a burst of
// pushes costs one handler and leaves in one write. detach() (from the strand) makes it inert
// for good. Thread use: any thread; one mutex guards the inbox.
class ConnectionSink final : public Sink, public std::enable_shared_from_this<ConnectionSink> {
   public:
    struct Batch {
        bool ends_session = false;  // a logged_out event ends the batch
        bool overflow = false;      // the inbox outgrew the outbound limit: a slow reader
    };

    ConnectionSink(std::weak_ptr<Connection> connection, std::size_t limit)
        : connection_(std::move(connection)), limit_(limit) {}

    void deliver(const Message& message) override;
    void logged_out(LogoutReason reason) override;
    void detach();
    // Strand: moves the queued frames to the end of `into` and re-arms the drain.
    Batch take(std::string& into);

   private:
    // After appending, with `mutex_` held: the connection to post a drain to, if one is needed.
    std::shared_ptr<Connection> drain_target_locked();

    std::mutex mutex_;
    std::weak_ptr<Connection> connection_;
    const std::size_t limit_;
    std::string inbox_;
    Batch batch_;
    bool drain_posted_ = false;
    bool detached_ = false;
};

// The reply fields of an op, already serialized: `"key":value,...` without braces.
struct EncodedFields {
    std::string text;
};

class Connection final : public std::enable_shared_from_this<Connection> {
   public:
    // `reject_busy`: the server is full (or, with `peer_full`, full for this peer address); this
    // connection only gets a server_busy line.
    Connection(ServerCore& core, tcp::socket socket, std::uint64_t id, bool reject_busy,
               bool peer_full = false);

    // Any thread: begin serving.
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
    void reply(Result<json::object> fields);

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
    struct Pending {
        std::string frame;
        bool too_large = false;
    };
    // A dispatched request whose reply has not left yet.
    struct Slot {
        std::string id_json = "null";  // the request's id, serialized, echoed in the reply
        std::string frame;             // the reply, once ready
        bool ready = false;
        bool barrier = false;  // not a send: it runs alone
    };

    // A TLS connection's OpenSSL stream over socket_ (which stays the owner of the socket) and
    // its read buffer. Plain connections have none.
    struct TlsStream {
        TlsStream(tcp::socket& socket, ssl::context& context) : stream(socket, context) {}
        ssl::stream<tcp::socket&> stream;
        std::array<char, 16 * 1024> buffer;  // one TLS record's payload at most
        bool established = false;
    };

    // Reading.
    void do_read();
    void on_readable(const boost::system::error_code& ec);
    void on_bytes(std::string_view bytes);
    bool backlog_full() const noexcept;
    void pump();
    // Dispatches `frame`, or returns false having done nothing when it must wait for the
    // requests in flight.
    bool try_dispatch(std::string_view frame);
    void open_slot(bool barrier);
    Slot* slot_of(std::uint64_t seq) noexcept;
    void finish(std::uint64_t seq, Result<json::object> fields);
    void finish(std::uint64_t seq, Result<EncodedFields> fields);
    void fail(Slot& slot, const Error& error);
    void complete(Slot& slot);
    bool slots_empty() const noexcept { return slot_head_ == slots_.size(); }

    // Writing.
    void enqueue(std::string_view frame, bool is_push);
    void schedule_write();
    void start_write();
    void on_written(const boost::system::error_code& ec);
    void arm_stall_timer();
    void drop_slow_reader(const char* why);
    std::size_t outbound_bytes() const noexcept { return pending_.size() + writing_.size(); }

    // Closing.
    void begin_drain(const char* reason);
    void start_linger();
    void close(const char* reason);
    void end_session();
    void arm_login_timer();

    void on_sink_drain(const std::shared_ptr<ConnectionSink>& sink);

    // TLS: the handshake before serving, reading through OpenSSL, and the closing handshake.
    void start_tls_handshake();
    void on_tls_handshake(const boost::system::error_code& ec);
    void read_tls();
    void on_tls_read(const boost::system::error_code& ec, std::size_t n);
    void linger_tls();
    void log_error(const Error& error) const;

    // Declared first, released last: keeps the io_context alive for the socket and timers.
    std::shared_ptr<ServerCore> keep_core_;
    ServerCore& core_;
    tcp::socket socket_;
    std::unique_ptr<TlsStream> tls_;  // TLS connections only
    Strand strand_;
    asio::steady_timer login_timer_;
    asio::steady_timer linger_timer_;
    asio::steady_timer stall_timer_;  // a write that does not finish in time closes the connection
    const std::uint64_t id_;
    const bool reject_busy_;
    const bool peer_full_;
    std::string peer_;          // address:port, for the log
    std::string peer_address_;  // address only

    // Input.
    LineFramer framer_;
    std::deque<Pending> backlog_;  // frames read ahead that cannot be dispatched yet
    std::size_t backlog_bytes_ = 0;
    bool reading_ = false;       // an async_wait for input is in flight
    bool read_stopped_ = false;  // EOF seen or input refused (too large)
    bool in_pump_ = false;       // dispatching: completions must not re-enter pump()

    // Requests in flight, oldest first: slots_[slot_head_..]. A vector compacted as it goes, so
    // an idle connection holds no allocation for it.
    std::vector<Slot> slots_;
    std::size_t slot_head_ = 0;
    std::uint64_t head_seq_ = 0;     // the sequence number of slots_[slot_head_]
    std::uint64_t current_seq_ = 0;  // the request being dispatched
    bool barrier_ = false;           // a barrier request is in flight

    // Output.
    std::string pending_;  // frames waiting for the next write
    std::string writing_;  // frames of the write in flight
    std::size_t pending_push_bytes_ = 0;
    std::size_t writing_push_bytes_ = 0;
    bool write_in_flight_ = false;
    bool write_scheduled_ = false;  // a handler that starts the write is posted
    OutboundShare share_;           // pending_ + writing_, against the process-wide budget
    std::chrono::steady_clock::time_point write_started_{};
    bool stall_armed_ = false;

    // Session.
    std::optional<SessionId> session_;
    std::shared_ptr<ConnectionSink> sink_;
    std::string push_batch_;         // pushes taken from the sink, being enqueued
    bool hold_pushes_ = false;       // a login is in progress
    std::vector<std::string> held_;  // pushes and events to send after the current reply

    // Rate limit (token bucket).
    TokenBucket rate_;

    // Lifecycle.
    bool draining_ = false;  // answering no more; flush, half-close, linger, close
    bool lingering_ = false;
    bool closed_ = false;
    std::size_t linger_discarded_ = 0;
};

template <class T, class Encode>
ChatService::Done<T> Connection::reply_later(Encode encode) {
    core_.begin_inflight();
    return [self = shared_from_this(), encode = std::move(encode),
            seq = current_seq_](Result<T> result) mutable {
        // Hand our reference on, so that nothing of the connection is owned by this function
        // object once the server stops waiting for it.
        std::shared_ptr<Connection> connection = std::move(self);
        ServerCore& core = connection->core_;
        if (connection->strand_.running_in_this_thread()) {
            // The core completed inline (MemoryStore, hashing without a pool): answer now rather
            // than after another trip round the event loop.
            auto fields = encode(*connection, std::move(result));
            connection->finish(seq, std::move(fields));
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
                connection->finish(seq, std::move(fields));
            });
        }
        core.end_inflight();
    };
}

}  // namespace chat::json_transport
