// Connection: one client connection of the JSON server, the part that ties the others together
// and owns the connection's life: its state, its session, its timers and its writes.
//
//   ByteStream       (json_stream.hpp)       plain TCP or TLS bytes, one read path, the linger
//   RequestPipeline  (request_pipeline.hpp)  frames -> checks -> rate limit -> ops -> replies
//   OutboundQueue    (outbound_queue.hpp)    coalesced writes, the outbound bounds, held pushes
//   ConnectionSink   (connection_sink.hpp)   the session's pushes from the core
//
// A connection goes handshaking (TLS only) -> serving (logged in or not: the session is
// FrameConnection's) and ends draining -> lingering -> closed; close() ends any state at once.
// One write is in flight at a time, started from a posted handler, so everything queued
// meanwhile leaves in one write (FrameConnection's outbound half). A connection that does not
// log in within Limits::login_timeout is closed (docs/protocol.md, "Limits and protection").
//
// Thread use: as FrameConnection (frame_connection.hpp), whose hooks it implements.
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
        serving,      // reading and answering frames
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

   private:
    std::shared_ptr<Connection> shared_self() {
        return std::static_pointer_cast<Connection>(shared_from_this());
    }

    // --- FrameConnection's hooks (strand). ---
    bool closing() const noexcept override {
        return state_ == State::draining || state_ == State::lingering || state_ == State::closed;
    }
    bool closed() const noexcept override { return state_ == State::closed; }
    bool output_shut() const noexcept override { return state_ == State::lingering; }
    void write_out(std::string_view bytes) override;
    void output_drained() override { start_linger(); }
    void close_after(std::string_view frame, const char* reason) override;
    void progress() override;
    void login_timed_out() override { close("login timeout"); }
    void close(const char* reason) override;

    // Starting and reading.
    void on_handshake(ByteStream::HandshakeStatus status, const boost::system::error_code& ec);
    void serve();
    void read();
    void on_read(ByteStream::ReadStatus status, std::string_view bytes);

    // Closing.
    void begin_drain(const char* reason);
    void start_linger();

    ByteStream stream_;
    asio::steady_timer linger_timer_;
    const bool reject_busy_;
    bool heard_ = false;  // any byte received (a silent connection closes at debug level)
    const bool peer_full_;
    State state_;
};

}  // namespace chat::json_transport
