// FrameConnection: the session and outbound halves every connection carrying JSON frames shares
// (see frame_connection.hpp).
#include "frame_connection.hpp"

#include <chrono>

#include "chat/log.hpp"
#include "connection_sink.hpp"

namespace chat::json_transport {

namespace {

// Buffers that grew for one large batch of pushes are released afterwards.
constexpr std::size_t kKeepPushBatchCapacity = 64 * 1024;

}  // namespace

FrameConnection::FrameConnection(ServerCore& core, std::uint64_t id, std::string_view component)
    : keep_core_(core.shared_from_this()),
      core_(core),
      strand_(asio::make_strand(core.ioc)),
      id_(id),
      component_(component),
      pipeline_(*this, core.limits),
      outbound_(core.outbound_budget, core.limits),
      login_timer_(strand_),
      stall_timer_(strand_) {}

void FrameConnection::log_error(const Error& error) const {
    log::Level level = log::Level::debug;
    if (error.code == Errc::internal) level = log::Level::error;
    if (error.code == Errc::frame_too_large) level = log::Level::warn;
    if (!log::enabled(level)) return;
    log::write(level, component_, "request failed",
               log::Fields()
                   .add("conn", id_)
                   .add("peer", peer_)
                   .add("code", to_string(error.code))
                   .add("error", '"' + error.message + '"')
                   .str());
}

// ---------------------------------------------------------------------------------------------
// The outbound half

bool FrameConnection::send(std::string_view frame, bool is_push) {
    if (closed()) return false;
    if (output_shut()) return true;
    const char* refusal = is_push ? outbound_.add_push(frame) : outbound_.add_reply(frame);
    if (refusal != nullptr) {
        drop_slow_reader(refusal);
        return false;
    }
    schedule_write();
    return true;
}

bool FrameConnection::release_held() {
    for (const std::string& frame : outbound_.take_held()) {
        if (!send_push(frame)) return false;
    }
    return true;
}

void FrameConnection::schedule_write() {
    if (outbound_.write_in_flight() || write_scheduled_) return;
    write_scheduled_ = true;
    asio::post(strand_, [self = shared_from_this()] {
        self->write_scheduled_ = false;
        if (!self->closed() && !self->outbound_.write_in_flight() &&
            self->outbound_.has_pending()) {
            self->start_write();
        }
    });
}

void FrameConnection::start_write() {
    const std::string_view bytes = outbound_.start_write(std::chrono::steady_clock::now());
    arm_stall_timer();
    write_out(bytes);
}

void FrameConnection::write_finished(const boost::system::error_code& ec) {
    outbound_.write_done(!closed() && !ec);
    if (closed()) return;
    if (ec) {
        close(ec == asio::error::operation_aborted ? nullptr : "write failed");
        return;
    }
    if (outbound_.has_pending()) {
        start_write();
        return;
    }
    if (closing()) {
        output_drained();
        return;
    }
    progress();  // a request may have been waiting for the outbound buffer to drain
}

void FrameConnection::arm_stall_timer() {
    const auto timeout = core_.limits.write_stall_timeout;
    if (stall_armed_ || timeout.count() <= 0 || closed()) return;
    stall_armed_ = true;
    stall_timer_.expires_at(outbound_.write_started() + timeout);
    stall_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        self->stall_armed_ = false;
        if (ec || self->closed() || !self->outbound_.write_in_flight()) return;
        if (self->outbound_.stalled(std::chrono::steady_clock::now(),
                                    self->core_.limits.write_stall_timeout)) {
            // The peer has not taken a byte's worth of progress for that long: it is not
            // reading. Its unacknowledged messages stay queued for a later fetch.
            self->drop_slow_reader("write stalled");
            return;
        }
        self->arm_stall_timer();  // a later write is in flight: time that one
    });
}

void FrameConnection::drop_slow_reader(const char* why) {
    log::write(log::Level::warn, component_, "slow reader dropped",
               log::Fields()
                   .add("conn", id_)
                   .add("peer", peer_)
                   .add("reason", '"' + std::string(why) + '"')
                   .add("outbound_bytes", outbound_.bytes())
                   .str());
    close(why);
}

// ---------------------------------------------------------------------------------------------
// The session half

std::shared_ptr<Sink> FrameConnection::begin_login() {
    if (sink_) sink_->detach();
    sink_ = std::make_shared<ConnectionSink>(weak_from_this(), core_.limits.max_outbound_bytes);
    logging_in_ = true;
    return sink_;
}

void FrameConnection::end_login(const Result<LoginResult>& result) {
    if (closing()) {
        // The connection went away while the password was being checked.
        if (result.ok()) (void)core_.service.logout(result->session);
        return;
    }
    logging_in_ = false;
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
    login_timer_.cancel();
    log::write(log::Level::debug, component_, "logged in",
               log::Fields().add("conn", id_).add("user", result->username).str());
}

void FrameConnection::session_logged_out() {
    // A login in progress stays in progress: its reply (and what is held for after it) is due.
    leave_session(false);
    arm_login_timer();
}

void FrameConnection::session_deleted() {
    session_logged_out();
    // The core will also tell our (now detached) sink; this copy keeps the event right after
    // the reply, whatever the threads do.
    outbound_.hold(logged_out_event_frame(LogoutReason::account_deleted));
}

void FrameConnection::post_sink_drain(std::shared_ptr<ConnectionSink> sink) {
    asio::post(strand_,
               [self = shared_from_this(), sink = std::move(sink)] { self->on_sink_drain(sink); });
}

void FrameConnection::on_sink_drain(const std::shared_ptr<ConnectionSink>& sink) {
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
        if (logging_in_) {
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

void FrameConnection::leave_session(bool logout) {
    if (sink_) {
        sink_->detach();
        sink_.reset();
    }
    if (session_ && logout) (void)core_.service.logout(*session_);
    session_.reset();
}

void FrameConnection::arm_login_timer() {
    if (core_.limits.login_timeout.count() <= 0 || closing()) return;
    login_timer_.expires_after(core_.limits.login_timeout);
    login_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (ec || self->closing() || self->session_) return;
        if (!self->pipeline_.idle()) {
            self->arm_login_timer();  // a login may be waiting for the hashing pool
            return;
        }
        self->login_timed_out();
    });
}

}  // namespace chat::json_transport
