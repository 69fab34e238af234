// One client connection of the JSON server (see json_connection.hpp).
#include "json_connection.hpp"

#include <algorithm>
#include <array>
#include <sstream>

#include "chat/log.hpp"
#include "json_ops.hpp"

namespace chat::json_transport {

namespace {

constexpr std::string_view kComponent = "json";
// Requests read ahead of the one being answered; reading pauses beyond either bound.
constexpr std::size_t kMaxBacklogFrames = 64;
// After the last reply of a closing connection: how long to wait for the peer to hang up
// (closing with unread input would reset the connection and could destroy that last reply).
constexpr std::chrono::milliseconds kLingerTime{1000};
constexpr std::size_t kMaxLingerDiscard = 1024 * 1024;
// Buffers that grew for one large reply are released afterwards.
constexpr std::size_t kKeepWriteCapacity = 64 * 1024;

json::parse_options parse_options() {
    json::parse_options options;
    options.max_depth = 64;
    // UTF-8 is checked after parsing, so that broken text in a field the core validates (a
    // message body, say) gets the same domain error on every transport; see dispatch().
    options.allow_invalid_utf8 = true;
    return options;
}

std::string endpoint_text(const tcp::socket& socket) {
    boost::system::error_code ec;
    auto endpoint = socket.remote_endpoint(ec);
    if (ec) return "unknown";
    std::ostringstream out;
    out << endpoint;
    return out.str();
}

// Names the op only when it is short plain ASCII: the message must stay valid UTF-8 and small.
std::string unknown_op_message(std::string_view op) {
    bool plain = !op.empty() && op.size() <= 32 && std::all_of(op.begin(), op.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.';
    });
    return plain ? "unknown op '" + std::string(op) + "'" : std::string("unknown op");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ServerCore

void ServerCore::begin_inflight() {
    std::lock_guard lock(mutex);
    ++inflight;
}

void ServerCore::end_inflight() {
    // Notify under the lock: the waiter may destroy this object as soon as it can re-lock.
    std::lock_guard lock(mutex);
    --inflight;
    changed.notify_all();
}

void ServerCore::unregister(std::uint64_t id, bool counted) {
    std::lock_guard lock(mutex);
    connections.erase(id);
    if (counted) --live;
    changed.notify_all();
}

// ---------------------------------------------------------------------------------------------
// ConnectionSink

void ConnectionSink::deliver(const Message& message) { post(message_event_frame(message), false); }

void ConnectionSink::logged_out(LogoutReason reason) { post(logged_out_event_frame(reason), true); }

void ConnectionSink::post(std::string frame, bool ends_session) {
    std::lock_guard lock(mutex_);
    if (auto connection = connection_.lock()) {
        connection->post_sink_frame(generation_, std::move(frame), ends_session);
    }
}

void ConnectionSink::detach() {
    std::lock_guard lock(mutex_);
    connection_.reset();
}

// ---------------------------------------------------------------------------------------------
// Connection: start and stop

Connection::Connection(ServerCore& core, tcp::socket socket, std::uint64_t id, bool reject_busy)
    : core_(core),
      socket_(std::move(socket)),
      strand_(asio::make_strand(core.ioc)),
      login_timer_(strand_),
      linger_timer_(strand_),
      id_(id),
      reject_busy_(reject_busy),
      peer_(endpoint_text(socket_)),
      framer_(core.limits.max_frame),
      parser_(json::storage_ptr(), parse_options()),
      tokens_(core.limits.rate_burst),
      last_refill_(std::chrono::steady_clock::now()) {}

void Connection::start() {
    asio::dispatch(strand_, [self = shared_from_this()] {
        if (self->reject_busy_) {
            log::write(log::Level::warn, kComponent, "connection refused",
                       log::Fields().add("peer", self->peer_).add("reason", "server_busy").str());
            self->enqueue(error_frame(nullptr, make_error(Errc::server_busy,
                                                          "too many connections; try later")),
                          false);
            self->begin_drain(nullptr);
            return;
        }
        boost::system::error_code ec;
        self->socket_.set_option(tcp::no_delay(true), ec);
        self->socket_.non_blocking(true, ec);
        if (ec) {
            self->close("socket setup failed");
            return;
        }
        log::write(log::Level::info, kComponent, "connection open",
                   log::Fields().add("conn", self->id_).add("peer", self->peer_).str());
        self->arm_login_timer();
        self->do_read();
    });
}

void Connection::post_close() {
    asio::dispatch(strand_, [self = shared_from_this()] { self->close("server stopping"); });
}

void Connection::arm_login_timer() {
    if (core_.limits.login_timeout.count() <= 0 || closed_ || draining_) return;
    login_timer_.expires_after(core_.limits.login_timeout);
    login_timer_.async_wait(
        asio::bind_executor(strand_, [self = shared_from_this()](boost::system::error_code ec) {
            if (ec || self->closed_ || self->draining_ || self->session_) return;
            if (self->busy_) {
                self->arm_login_timer();  // a login may be waiting for the hashing pool
                return;
            }
            self->close("login timeout");
        }));
}

void Connection::begin_drain(const char* reason) {
    if (draining_ || closed_) return;
    draining_ = true;
    if (reason != nullptr) {
        log::write(log::Level::debug, kComponent, "connection closing",
                   log::Fields().add("conn", id_).add("reason", reason).str());
    }
    end_session();
    login_timer_.cancel();
    backlog_.clear();
    backlog_bytes_ = 0;
    if (!write_in_flight_ && pending_.empty()) start_linger();
}

void Connection::start_linger() {
    if (lingering_ || closed_) return;
    lingering_ = true;
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) {
        close(nullptr);
        return;
    }
    linger_timer_.expires_after(kLingerTime);
    linger_timer_.async_wait(asio::bind_executor(
        strand_, [self = shared_from_this()](boost::system::error_code wait_ec) {
            if (!wait_ec) self->close(nullptr);
        }));
    do_read();
}

void Connection::close(const char* reason) {
    if (closed_) return;
    closed_ = true;
    end_session();
    boost::system::error_code ec;
    login_timer_.cancel();
    linger_timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    backlog_.clear();
    held_.clear();
    std::string().swap(pending_);
    // Unregister first: once the line is logged, the slot is free for a new connection.
    core_.unregister(id_, !reject_busy_);
    if (!reject_busy_) {
        log::Fields fields;
        fields.add("conn", id_).add("peer", peer_);
        if (reason != nullptr) fields.add("reason", reason);
        log::write(log::Level::info, kComponent, "connection closed", fields.str());
    }
}

void Connection::end_session() {
    if (sink_) {
        sink_->detach();
        sink_.reset();
    }
    hold_pushes_ = false;
    if (session_) {
        (void)core_.service.logout(*session_);
        session_.reset();
    }
}

// ---------------------------------------------------------------------------------------------
// Connection: reading and answering

bool Connection::backlog_full() const noexcept {
    return backlog_.size() >= kMaxBacklogFrames || backlog_bytes_ > 2 * core_.limits.max_frame;
}

void Connection::do_read() {
    if (closed_ || reading_) return;
    if (!lingering_ && (draining_ || read_stopped_ || backlog_full())) return;
    reading_ = true;
    socket_.async_wait(
        tcp::socket::wait_read,
        asio::bind_executor(strand_, [self = shared_from_this()](boost::system::error_code ec) {
            self->on_readable(ec);
        }));
}

void Connection::on_readable(const boost::system::error_code& ec) {
    reading_ = false;
    if (closed_) return;
    if (ec) {
        close(ec == asio::error::operation_aborted ? nullptr : "read failed");
        return;
    }
    // One read buffer per I/O thread: an idle connection then holds no input buffer at all.
    thread_local std::array<char, 64 * 1024> buffer;
    boost::system::error_code read_ec;
    std::size_t n = socket_.read_some(asio::buffer(buffer), read_ec);
    if (read_ec == asio::error::would_block || read_ec == asio::error::try_again) {
        do_read();
        return;
    }
    if (lingering_) {
        linger_discarded_ += n;
        if (read_ec || linger_discarded_ > kMaxLingerDiscard) {
            close(nullptr);
        } else {
            do_read();
        }
        return;
    }
    if (read_ec) {
        if (read_ec == asio::error::eof) {
            // The peer is done sending; answer what it sent, then close.
            read_stopped_ = true;
            pump();
        } else {
            close(nullptr);
        }
        return;
    }
    on_bytes(std::string_view(buffer.data(), n));
    pump();
}

void Connection::on_bytes(std::string_view bytes) {
    if (draining_) return;
    auto status = framer_.feed(bytes, [this](std::string_view frame) {
        backlog_bytes_ += frame.size();
        backlog_.push_back(Pending{std::string(frame), false});
    });
    if (status == LineFramer::Status::too_large) {
        read_stopped_ = true;
        backlog_.push_back(Pending{{}, true});
    }
}

void Connection::pump() {
    if (in_pump_) return;
    in_pump_ = true;
    while (!closed_ && !draining_ && !busy_ && !backlog_.empty() &&
           outbound_bytes() <= core_.limits.max_outbound_bytes) {
        Pending next = std::move(backlog_.front());
        backlog_.pop_front();
        backlog_bytes_ -= next.frame.size();
        if (next.too_large) {
            Error error = make_error(
                Errc::frame_too_large,
                "frame longer than " + std::to_string(core_.limits.max_frame) + " bytes");
            log_error(error);
            enqueue(error_frame(nullptr, error), false);
            begin_drain("frame too large");
            break;
        }
        busy_ = true;
        dispatch(next.frame);
    }
    in_pump_ = false;
    if (closed_ || draining_) return;
    if (read_stopped_ && backlog_.empty() && !busy_) {
        begin_drain(nullptr);
        return;
    }
    do_read();
}

bool Connection::take_token() {
    const double rate = core_.limits.rate_limit;
    if (rate <= 0) return true;
    auto now = std::chrono::steady_clock::now();
    std::chrono::duration<double> elapsed = now - last_refill_;
    last_refill_ = now;
    const double burst = std::max(core_.limits.rate_burst, 1.0);
    tokens_ = std::min(burst, tokens_ + elapsed.count() * rate);
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
}

void Connection::dispatch(std::string_view frame) {
    current_id_ = nullptr;
    const bool allowed = take_token();

    boost::system::error_code ec;
    parser_.reset();
    parser_.write(frame.data(), frame.size(), ec);
    if (ec) {
        if (!allowed) return reply(make_error(Errc::rate_limited, "too many requests"));
        return reply(make_error(Errc::bad_request, "invalid JSON: " + ec.message()));
    }
    json::value request = parser_.release();
    auto* object = request.if_object();
    if (object == nullptr) {
        if (!allowed) return reply(make_error(Errc::rate_limited, "too many requests"));
        return reply(make_error(Errc::bad_request, "a request must be a JSON object"));
    }
    if (const auto* id = object->if_contains("id")) {
        const bool usable =
            id->is_number() || id->is_null() || (id->is_string() && is_valid_utf8_json(*id));
        if (!usable) {
            if (!allowed) return reply(make_error(Errc::rate_limited, "too many requests"));
            return reply(make_error(Errc::bad_request, "'id' must be a string or a number"));
        }
        current_id_ = *id;
    }
    if (!allowed) return reply(make_error(Errc::rate_limited, "too many requests"));

    const auto* op = object->if_contains("op");
    if (op == nullptr || op->is_null()) {
        return reply(make_error(Errc::bad_request, "missing field 'op'"));
    }
    if (!op->is_string()) return reply(make_error(Errc::bad_request, "'op' must be a string"));
    const OpRow* row = find_op(op->get_string());
    if (!is_valid_utf8_json(request, row != nullptr ? std::span(row->domain_text)
                                                    : std::span<const std::string_view>())) {
        return reply(make_error(Errc::bad_request, "invalid UTF-8 in the request"));
    }
    if (row == nullptr) {
        return reply(make_error(Errc::unknown_op, unknown_op_message(op->get_string())));
    }
    if (row->needs_session && !session_) {
        return reply(make_error(Errc::not_logged_in, "log in first"));
    }
    row->run(*this, *object);
}

void Connection::reply(Result<json::object> fields) { finish(std::move(fields)); }

void Connection::finish(Result<json::object> fields) {
    if (closed_ || !busy_) return;
    busy_ = false;
    if (fields.ok()) {
        enqueue(reply_frame(current_id_, std::move(fields).value()), false);
    } else {
        log_error(fields.error());
        enqueue(error_frame(current_id_, fields.error()), false);
    }
    hold_pushes_ = false;
    if (!held_.empty()) {
        auto held = std::move(held_);
        held_.clear();
        for (auto& frame : held) enqueue(frame, true);
    }
    if (!in_pump_) pump();
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
// Connection: writing

void Connection::enqueue(std::string_view frame, bool is_push) {
    if (closed_ || lingering_) return;
    if (is_push) {
        // Pushes are what a reader that does not read makes pile up; replies cannot, because no
        // request is answered while the outbound buffer is over the limit.
        if (pending_push_bytes_ + writing_push_bytes_ + frame.size() >
            core_.limits.max_outbound_bytes) {
            log::write(log::Level::warn, kComponent, "slow reader dropped",
                       log::Fields().add("conn", id_).add("peer", peer_).str());
            close("outbound queue full");
            return;
        }
        pending_push_bytes_ += frame.size();
    }
    pending_.append(frame);
    if (!write_in_flight_) start_write();
}

void Connection::start_write() {
    writing_.swap(pending_);
    pending_.clear();
    writing_push_bytes_ = pending_push_bytes_;
    pending_push_bytes_ = 0;
    write_in_flight_ = true;
    asio::async_write(socket_, asio::buffer(writing_),
                      asio::bind_executor(strand_, [self = shared_from_this()](
                                                       boost::system::error_code ec, std::size_t) {
                          self->on_written(ec);
                      }));
}

void Connection::on_written(const boost::system::error_code& ec) {
    write_in_flight_ = false;
    if (closed_) return;
    if (ec) {
        close(ec == asio::error::operation_aborted ? nullptr : "write failed");
        return;
    }
    if (writing_.capacity() > kKeepWriteCapacity) {
        std::string().swap(writing_);
    } else {
        writing_.clear();
    }
    writing_push_bytes_ = 0;
    if (!pending_.empty()) {
        start_write();
        return;
    }
    if (pending_.capacity() > kKeepWriteCapacity) std::string().swap(pending_);
    if (draining_) {
        start_linger();
        return;
    }
    pump();  // a request may have been waiting for the outbound buffer to drain
}

// ---------------------------------------------------------------------------------------------
// Connection: sessions and pushes

std::shared_ptr<Sink> Connection::begin_login() {
    if (sink_) sink_->detach();
    sink_ = std::make_shared<ConnectionSink>(weak_from_this(), ++sink_generation_);
    hold_pushes_ = true;
    return sink_;
}

void Connection::end_login(const Result<LoginResult>& result) {
    if (closed_ || draining_) {
        // The connection went away while the password was being checked.
        if (result.ok()) (void)core_.service.logout(result->session);
        return;
    }
    if (result.ok()) {
        session_ = result->session;
        login_timer_.cancel();
        log::write(log::Level::debug, kComponent, "logged in",
                   log::Fields().add("conn", id_).add("user", result->username).str());
    } else {
        if (sink_) sink_->detach();
        sink_.reset();
        held_.clear();
    }
}

void Connection::session_logged_out() {
    if (sink_) sink_->detach();
    sink_.reset();
    session_.reset();
    arm_login_timer();
}

void Connection::session_deleted() {
    session_logged_out();
    // The core will also tell our (now detached) sink; this copy keeps the event right after
    // the reply, whatever the threads do.
    held_.push_back(logged_out_event_frame(LogoutReason::account_deleted));
}

void Connection::post_sink_frame(std::uint64_t generation, std::string frame, bool ends_session) {
    asio::post(strand_, [self = shared_from_this(), generation, frame = std::move(frame),
                         ends_session]() mutable {
        self->on_sink_frame(generation, std::move(frame), ends_session);
    });
}

void Connection::on_sink_frame(std::uint64_t generation, std::string frame, bool ends_session) {
    if (closed_ || draining_ || !sink_ || generation != sink_generation_) return;
    if (ends_session) {
        // Another connection deleted the account; the core has already ended the session.
        sink_->detach();
        sink_.reset();
        session_.reset();
        arm_login_timer();
    }
    if (hold_pushes_) {
        held_.push_back(std::move(frame));
    } else {
        enqueue(frame, true);
    }
}

}  // namespace chat::json_transport
