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
// Buffers that grew for one large batch of pushes are released afterwards.
constexpr std::size_t kKeepPushBatchCapacity = 64 * 1024;

}  // namespace

// ---------------------------------------------------------------------------------------------
// Starting and reading

Connection::Connection(ServerCore& core, tcp::socket socket, std::uint64_t id, bool reject_busy,
                       bool peer_full)
    : FrameConnection(core, id),
      stream_(std::move(socket), strand_, core.tls.get()),
      login_timer_(strand_),
      linger_timer_(strand_),
      stall_timer_(strand_),
      reject_busy_(reject_busy),
      peer_full_(peer_full),
      peer_(stream_.peer()),
      peer_address_(stream_.peer_address()),
      state_(stream_.is_tls() ? State::handshaking : State::anonymous),
      outbound_(core.outbound_budget, core.limits) {}

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
            state_ = State::anonymous;
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

void Connection::log_error(const Error& error) const {
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

// ---------------------------------------------------------------------------------------------
// Writing

bool Connection::send(std::string_view frame, bool is_push) {
    if (state_ == State::closed) return false;
    if (state_ == State::lingering) return true;  // our side is shut: nothing more goes out
    const char* refusal = is_push ? outbound_.add_push(frame) : outbound_.add_reply(frame);
    if (refusal != nullptr) {
        drop_slow_reader(refusal);
        return false;
    }
    schedule_write();
    return true;
}

bool Connection::release_held() {
    for (const std::string& frame : outbound_.take_held()) {
        if (!send_push(frame)) return false;
    }
    return true;
}

void Connection::close_after(std::string_view frame, const char* reason) {
    send_reply(frame);
    begin_drain(reason);
}

void Connection::schedule_write() {
    if (outbound_.write_in_flight() || write_scheduled_) return;
    // Not now but from a posted handler: whatever else this round of handlers queues (more
    // replies, more pushes) leaves in the same write.
    write_scheduled_ = true;
    asio::post(strand_, [self = shared_self()] {
        self->write_scheduled_ = false;
        if (self->state_ != State::closed && !self->outbound_.write_in_flight() &&
            self->outbound_.has_pending()) {
            self->start_write();
        }
    });
}

void Connection::start_write() {
    const std::string_view bytes = outbound_.start_write(std::chrono::steady_clock::now());
    arm_stall_timer();
    stream_.write(bytes, [self = shared_self()](const boost::system::error_code& ec) {
        self->on_written(ec);
    });
}

void Connection::on_written(const boost::system::error_code& ec) {
    outbound_.write_done(state_ != State::closed && !ec);
    if (state_ == State::closed) return;
    if (ec) {
        close(ec == asio::error::operation_aborted ? nullptr : "write failed");
        return;
    }
    if (outbound_.has_pending()) {
        start_write();
        return;
    }
    if (closing()) {
        start_linger();
        return;
    }
    progress();  // a request may have been waiting for the outbound buffer to drain
}

void Connection::arm_stall_timer() {
    const auto timeout = core_.limits.write_stall_timeout;
    if (stall_armed_ || timeout.count() <= 0 || state_ == State::closed) return;
    stall_armed_ = true;
    stall_timer_.expires_at(outbound_.write_started() + timeout);
    stall_timer_.async_wait(
        asio::bind_executor(strand_, [self = shared_self()](boost::system::error_code ec) {
            self->stall_armed_ = false;
            if (ec || self->state_ == State::closed || !self->outbound_.write_in_flight()) return;
            if (self->outbound_.stalled(std::chrono::steady_clock::now(),
                                        self->core_.limits.write_stall_timeout)) {
                // The peer has not taken a byte's worth of progress for that long: it is not
                // reading. Its unacknowledged messages stay queued for a later fetch.
                self->drop_slow_reader("write stalled");
                return;
            }
            self->arm_stall_timer();  // a later write is in flight: time that one
        }));
}

void Connection::drop_slow_reader(const char* why) {
    log::write(log::Level::warn, kComponent, "slow reader dropped",
               log::Fields()
                   .add("conn", id_)
                   .add("peer", peer_)
                   .add("reason", '"' + std::string(why) + '"')
                   .add("outbound_bytes", outbound_.bytes())
                   .str());
    close(why);
}

// ---------------------------------------------------------------------------------------------
// Sessions and pushes

std::shared_ptr<Sink> Connection::begin_login() {
    if (sink_) sink_->detach();
    sink_ = std::make_shared<ConnectionSink>(weak_from_this(), core_.limits.max_outbound_bytes);
    state_ = State::logging_in;
    return sink_;
}

void Connection::end_login(const Result<LoginResult>& result) {
    if (closing()) {
        // The connection went away while the password was being checked.
        if (result.ok()) (void)core_.service.logout(result->session);
        return;
    }
    state_ = State::anonymous;
    if (result.ok() && !sink_) {
        // The session ended (its account was deleted) before this reply: the held logged_out
        // event follows the reply, and the connection stays logged out.
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

void Connection::session_logged_out() {
    leave_session(false);
    // A login in progress stays in progress: its reply (and what is held for after it) is due.
    if (state_ == State::logged_in) state_ = State::anonymous;
    arm_login_timer();
}

void Connection::session_deleted() {
    session_logged_out();
    // The core will also tell our (now detached) sink; this copy keeps the event right after
    // the reply, whatever the threads do.
    outbound_.hold(logged_out_event_frame(LogoutReason::account_deleted));
}

void Connection::post_sink_drain(std::shared_ptr<ConnectionSink> sink) {
    asio::post(strand_,
               [self = shared_self(), sink = std::move(sink)] { self->on_sink_drain(sink); });
}

void Connection::on_sink_drain(const std::shared_ptr<ConnectionSink>& sink) {
    const ConnectionSink::Batch batch = sink->take(push_batch_);
    if (closing() || sink_ != sink) {
        push_batch_.clear();
        return;
    }
    if (batch.overflow) {
        push_batch_.clear();
        drop_slow_reader("outbound queue full");
        return;
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
    if (push_batch_.capacity() > kKeepPushBatchCapacity) {
        std::string().swap(push_batch_);
    } else {
        push_batch_.clear();
    }
}

void Connection::leave_session(bool logout) {
    if (sink_) {
        sink_->detach();
        sink_.reset();
    }
    if (session_ && logout) (void)core_.service.logout(*session_);
    session_.reset();
}

// ---------------------------------------------------------------------------------------------
// Timers and closing

void Connection::arm_login_timer() {
    if (core_.limits.login_timeout.count() <= 0 || closing()) return;
    login_timer_.expires_after(core_.limits.login_timeout);
    login_timer_.async_wait(
        asio::bind_executor(strand_, [self = shared_self()](boost::system::error_code ec) {
            if (ec || self->closing() || self->session_) return;
            if (!self->pipeline_.idle()) {
                self->arm_login_timer();  // a login may be waiting for the hashing pool
                return;
            }
            self->close("login timeout");
        }));
}

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
