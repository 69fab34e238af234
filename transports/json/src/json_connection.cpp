// Connection: one client connection of the JSON server, its state, session, timers and writes
// (see json_connection.hpp).
#include "json_connection.hpp"

#include "chat/log.hpp"

namespace chat::json_transport {

namespace {

constexpr std::string_view kComponent = "json";
// After the last reply of a closing connection: how long to wait for the peer to hang up
// (closing with unread input would reset the connection and could destroy that last reply).
constexpr std::chrono::milliseconds kLingerTime{1000};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Starting and reading

Connection::Connection(ServerCore& core, tcp::socket socket, std::uint64_t id, bool reject_busy,
                       bool peer_full)
    : FrameConnection(core, id, kComponent),
      stream_(std::move(socket), strand_, core.tls.get()),
      linger_timer_(strand_),
      reject_busy_(reject_busy),
      peer_full_(peer_full),
      state_(stream_.is_tls() ? State::handshaking : State::serving) {
    peer_ = stream_.peer();
    peer_address_ = stream_.peer_address();
}

void Connection::start() {
    asio::dispatch(strand_, [self = shared_self()] {
        if (self->state_ == State::closed) return;
        if (self->state_ != State::handshaking) return self->serve();
        // TLS: served once the handshake is done.
        self->stream_.handshake(
            self->core_.tls_handshake_timeout,
            [self](ByteStream::HandshakeStatus status, const boost::system::error_code& ec) {
                self->on_handshake(status, ec);
            });
    });
}

void Connection::post_close() {
    asio::dispatch(strand_, [self = shared_self()] { self->close("server stopping"); });
}

void Connection::on_handshake(ByteStream::HandshakeStatus status,
                              const boost::system::error_code& ec) {
    if (state_ == State::closed) return;
    switch (status) {
        case ByteStream::HandshakeStatus::done:
            state_ = State::serving;
            serve();
            return;
        case ByteStream::HandshakeStatus::timed_out:
            close("tls handshake timeout");
            return;
        case ByteStream::HandshakeStatus::failed:
            log::write(log::Level::info, kComponent, "tls handshake failed",
                       log::Fields()
                           .add("conn", id_)
                           .add("peer", peer_)
                           .add("error", '"' + ec.message() + '"')
                           .str());
            close(nullptr);
            return;
    }
}

void Connection::serve() {
    if (reject_busy_) {
        log::write(log::Level::warn, kComponent, "connection refused",
                   log::Fields()
                       .add("peer", peer_)
                       .add("reason", peer_full_ ? "per_address" : "server_busy")
                       .str());
        close_after(
            error_frame(nullptr,
                        make_error(Errc::server_busy,
                                   peer_full_ ? "too many connections from your address; try later"
                                              : "too many connections; try later")),
            nullptr);
        return;
    }
    if (stream_.prepare()) {
        close("socket setup failed");
        return;
    }
    // At debug: a load balancer's health check opens and closes a connection every second or
    // so, on every node. A connection that says something is logged when it closes.
    log::write(log::Level::debug, kComponent, "connection open",
               log::Fields().add("conn", id_).add("peer", peer_).str());
    arm_login_timer();
    read();
}

void Connection::read() {
    if (closing() || stream_.reading() || !pipeline_.wants_input()) return;
    stream_.read([self = shared_self()](ByteStream::ReadStatus status, std::string_view bytes) {
        self->on_read(status, bytes);
    });
}

void Connection::on_read(ByteStream::ReadStatus status, std::string_view bytes) {
    if (state_ == State::closed) return;
    switch (status) {
        case ByteStream::ReadStatus::data:
            heard_ = true;
            pipeline_.on_bytes(bytes);
            break;
        case ByteStream::ReadStatus::eof:
            // The peer is done sending; answer what it sent, then close.
            pipeline_.end_input();
            break;
        case ByteStream::ReadStatus::failed:
            close("read failed");
            return;
        case ByteStream::ReadStatus::aborted:
            close(nullptr);
            return;
    }
    progress();
}

void Connection::progress() {
    if (pipeline_.dispatching()) return;
    pipeline_.pump();
    if (closing()) return;
    if (pipeline_.finished()) {
        begin_drain(nullptr);
        return;
    }
    read();
}

// ---------------------------------------------------------------------------------------------
// Writing

void Connection::close_after(std::string_view frame, const char* reason) {
    send_reply(frame);
    begin_drain(reason);
}

void Connection::write_out(std::string_view bytes) {
    stream_.write(bytes, [self = shared_self()](const boost::system::error_code& ec) {
        self->write_finished(ec);
    });
}

// ---------------------------------------------------------------------------------------------
// Timers and closing

void Connection::begin_drain(const char* reason) {
    if (closing()) return;
    state_ = State::draining;
    if (reason != nullptr) {
        log::write(log::Level::debug, kComponent, "connection closing",
                   log::Fields().add("conn", id_).add("reason", reason).str());
    }
    leave_session(true);
    login_timer_.cancel();
    pipeline_.drop_backlog();
    if (!outbound_.write_in_flight() && !outbound_.has_pending()) start_linger();
}

void Connection::start_linger() {
    if (state_ != State::draining) return;
    state_ = State::lingering;
    // Armed first: if the stream is done at once, close() cancels it.
    linger_timer_.expires_after(kLingerTime);
    linger_timer_.async_wait(
        asio::bind_executor(strand_, [self = shared_self()](boost::system::error_code ec) {
            if (!ec) self->close(nullptr);
        }));
    stream_.linger([self = shared_self()] { self->close(nullptr); });
}

void Connection::close(const char* reason) {
    if (state_ == State::closed) return;
    state_ = State::closed;
    leave_session(true);
    login_timer_.cancel();
    linger_timer_.cancel();
    stall_timer_.cancel();
    stream_.close();
    pipeline_.clear();
    outbound_.clear();
    // Unregister first: once the line is logged, the slot is free for a new connection.
    core_.unregister(id_, !reject_busy_, peer_address_);
    if (!reject_busy_) {
        log::Fields fields;
        fields.add("conn", id_).add("peer", peer_);
        if (reason != nullptr) fields.add("reason", reason);
        log::write(heard_ ? log::Level::info : log::Level::debug, kComponent, "connection closed",
                   fields.str());
    }
}

}  // namespace chat::json_transport
