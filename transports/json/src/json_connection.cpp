// One client connection of the JSON server (see json_connection.hpp).
#include "json_connection.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <sstream>

#include "chat/log.hpp"
#include "json_ops.hpp"

namespace chat::json_transport {

namespace {

constexpr std::string_view kComponent = "json";
// Requests read ahead that cannot be dispatched yet; reading pauses beyond either bound.
constexpr std::size_t kMaxBacklogFrames = 64;
// Sends of one connection with the core at once.
constexpr std::size_t kMaxPipelined = 64;
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
    // message body, say) gets the same domain error on every transport; see try_dispatch().
    options.allow_invalid_utf8 = true;
    return options;
}

// One parser per I/O thread (a request is parsed and handled without yielding the thread), so
// an idle connection holds no parser state.
json::parser& thread_parser() {
    thread_local json::parser parser(json::storage_ptr(), parse_options());
    return parser;
}

// Where a request's JSON value lives while it is handled: a per-thread block, so parsing an
// ordinary request allocates nothing (a large one spills over to the heap).
constexpr std::size_t kScratchBytes = 16 * 1024;

std::string address_text(const tcp::socket& socket) {
    boost::system::error_code ec;
    auto endpoint = socket.remote_endpoint(ec);
    if (ec) return {};
    return endpoint.address().to_string(ec);
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

void ServerCore::unregister(std::uint64_t id, bool counted, const std::string& address) {
    std::lock_guard lock(mutex);
    connections.erase(id);
    if (counted) {
        --live;
        if (auto it = per_address.find(address); it != per_address.end() && --it->second == 0) {
            per_address.erase(it);
        }
    }
    changed.notify_all();
}

// ---------------------------------------------------------------------------------------------
// ConnectionSink

void ConnectionSink::deliver(const Message& message) {
    std::shared_ptr<Connection> target;
    {
        std::lock_guard lock(mutex_);
        if (detached_ || batch_.overflow) return;
        append_message_event_frame(inbox_, message);
        target = drain_target_locked();
    }
    if (target) target->post_sink_drain(shared_from_this());
}

void ConnectionSink::logged_out(LogoutReason reason) {
    std::shared_ptr<Connection> target;
    {
        std::lock_guard lock(mutex_);
        if (detached_) return;
        inbox_.append(logged_out_event_frame(reason));
        batch_.ends_session = true;
        target = drain_target_locked();
    }
    if (target) target->post_sink_drain(shared_from_this());
}

std::shared_ptr<Connection> ConnectionSink::drain_target_locked() {
    if (inbox_.size() > limit_) {
        // Nobody reads this connection; what piled up is dropped with it (and stays queued).
        batch_.overflow = true;
        std::string().swap(inbox_);
    }
    if (drain_posted_) return nullptr;
    auto connection = connection_.lock();
    if (!connection) {
        detached_ = true;
        std::string().swap(inbox_);
        return nullptr;
    }
    drain_posted_ = true;
    return connection;
}

ConnectionSink::Batch ConnectionSink::take(std::string& into) {
    std::lock_guard lock(mutex_);
    drain_posted_ = false;
    if (into.empty()) {
        into.swap(inbox_);  // the common case: no copy, and the inbox gets the spare buffer
    } else {
        into.append(inbox_);
    }
    inbox_.clear();
    Batch batch = batch_;
    batch_.ends_session = false;
    return batch;
}

void ConnectionSink::detach() {
    std::lock_guard lock(mutex_);
    detached_ = true;
    connection_.reset();
    std::string().swap(inbox_);
}

// ---------------------------------------------------------------------------------------------
// Connection: start and stop

Connection::Connection(ServerCore& core, tcp::socket socket, std::uint64_t id, bool reject_busy,
                       bool peer_full)
    : keep_core_(core.shared_from_this()),
      core_(core),
      socket_(std::move(socket)),
      strand_(asio::make_strand(core.ioc)),
      login_timer_(strand_),
      linger_timer_(strand_),
      stall_timer_(strand_),
      id_(id),
      reject_busy_(reject_busy),
      peer_full_(peer_full),
      peer_(endpoint_text(socket_)),
      peer_address_(address_text(socket_)),
      framer_(core.limits.max_frame),
      share_(core.outbound_budget, core.limits.max_outbound_floor),
      rate_(core.limits.rate_limit, core.limits.rate_burst) {
    if (core.tls) tls_ = std::make_unique<TlsStream>(socket_, *core.tls);
}

void Connection::start() {
    asio::dispatch(strand_, [self = shared_from_this()] {
        // TLS: served once the handshake is done (on_tls_handshake comes back here).
        if (self->tls_ && !self->tls_->established) return self->start_tls_handshake();
        if (self->reject_busy_) {
            log::write(log::Level::warn, kComponent, "connection refused",
                       log::Fields()
                           .add("peer", self->peer_)
                           .add("reason", self->peer_full_ ? "per_address" : "server_busy")
                           .str());
            self->enqueue(
                error_frame(nullptr,
                            make_error(Errc::server_busy,
                                       self->peer_full_
                                           ? "too many connections from your address; try later"
                                           : "too many connections; try later")),
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
            if (!self->slots_empty()) {
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
    if (tls_) return linger_tls();
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
    stall_timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    backlog_.clear();
    held_.clear();
    slots_.clear();
    slot_head_ = 0;
    std::string().swap(pending_);
    share_.clear();
    // Unregister first: once the line is logged, the slot is free for a new connection.
    core_.unregister(id_, !reject_busy_, peer_address_);
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
    if (tls_) return read_tls();
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
    if (draining_ || closed_) return;
    // Frames that can go to the core at once are handled straight from the read buffer; the
    // rest wait in the backlog, copied, in order.
    const bool was_in_pump = in_pump_;
    in_pump_ = true;
    auto status = framer_.feed(bytes, [this](std::string_view frame) {
        if (closed_ || draining_) return;
        if (backlog_.empty() && try_dispatch(frame)) return;
        backlog_bytes_ += frame.size();
        backlog_.push_back(Pending{std::string(frame), false});
    });
    in_pump_ = was_in_pump;
    if (status == LineFramer::Status::too_large && !closed_ && !draining_) {
        read_stopped_ = true;
        backlog_.push_back(Pending{{}, true});
    }
}

void Connection::pump() {
    if (in_pump_) return;
    in_pump_ = true;
    while (!closed_ && !draining_ && !backlog_.empty()) {
        Pending& next = backlog_.front();
        if (next.too_large) {
            if (!slots_empty()) break;  // its error goes out after the replies before it
            Error error = make_error(
                Errc::frame_too_large,
                "frame longer than " + std::to_string(core_.limits.max_frame) + " bytes");
            log_error(error);
            backlog_.pop_front();
            enqueue(error_frame(nullptr, error), false);
            begin_drain("frame too large");
            break;
        }
        const bool dispatched = try_dispatch(next.frame);
        if (closed_ || draining_) break;  // the backlog is gone with it
        if (!dispatched) break;
        backlog_bytes_ -= next.frame.size();
        backlog_.pop_front();
    }
    in_pump_ = false;
    if (closed_ || draining_) return;
    if (read_stopped_ && backlog_.empty() && slots_empty()) {
        begin_drain(nullptr);
        return;
    }
    do_read();
}

bool Connection::try_dispatch(std::string_view frame) {
    if (barrier_ || slots_.size() - slot_head_ >= kMaxPipelined ||
        outbound_bytes() > core_.limits.max_outbound_bytes) {
        return false;
    }
    // The request's value lives in `scratch` (declared first, so it outlives the value).
    alignas(std::max_align_t) thread_local unsigned char scratch_block[kScratchBytes];
    json::monotonic_resource scratch(scratch_block, sizeof scratch_block);
    json::parser& parser = thread_parser();
    boost::system::error_code ec;
    parser.reset(&scratch);
    parser.write(frame.data(), frame.size(), ec);
    json::value request = ec ? json::value() : parser.release();
    const json::object* object = request.if_object();
    const json::value* op = object != nullptr ? object->if_contains("op") : nullptr;
    const bool is_send = op != nullptr && op->is_string() && op->get_string() == "send";
    // Only sends overlap; anything else waits until every reply before it is out.
    if (!is_send && !slots_empty()) return false;

    open_slot(!is_send);
    // From here on the request is answered exactly once, in its slot.
    auto refuse = [this](Error error) {
        reply(std::move(error));
        return true;
    };
    const bool allowed = rate_.take();
    if (ec) {
        if (!allowed) return refuse(make_error(Errc::rate_limited, "too many requests"));
        return refuse(make_error(Errc::bad_request, "invalid JSON: " + ec.message()));
    }
    if (object == nullptr) {
        if (!allowed) return refuse(make_error(Errc::rate_limited, "too many requests"));
        return refuse(make_error(Errc::bad_request, "a request must be a JSON object"));
    }
    if (const auto* id = object->if_contains("id")) {
        // A double id must be finite: 1e400 parses as infinity, which has no JSON spelling.
        const bool finite = !id->is_double() || std::isfinite(id->get_double());
        const bool usable = (id->is_number() && finite) || id->is_null() ||
                            (id->is_string() && is_valid_utf8_json(*id));
        if (!usable) {
            if (!allowed) return refuse(make_error(Errc::rate_limited, "too many requests"));
            return refuse(make_error(Errc::bad_request, "'id' must be a string or a number"));
        }
        slot_of(current_seq_)->id_json = json::serialize(*id);
    }
    if (!allowed) return refuse(make_error(Errc::rate_limited, "too many requests"));

    if (op == nullptr || op->is_null()) {
        return refuse(make_error(Errc::bad_request, "missing field 'op'"));
    }
    if (!op->is_string()) {
        return refuse(make_error(Errc::bad_request, "'op' must be a string"));
    }
    const OpRow* row = find_op(op->get_string());
    if (!is_valid_utf8_json(request, row != nullptr ? std::span(row->domain_text)
                                                    : std::span<const std::string_view>())) {
        return refuse(make_error(Errc::bad_request, "invalid UTF-8 in the request"));
    }
    if (row == nullptr) {
        return refuse(make_error(Errc::unknown_op, unknown_op_message(op->get_string())));
    }
    if (row->needs_session && !session_) {
        return refuse(make_error(Errc::not_logged_in, "log in first"));
    }
    row->run(*this, *object);
    return true;
}

void Connection::open_slot(bool barrier) {
    if (slot_head_ == slots_.size()) {
        slots_.clear();
        slot_head_ = 0;
    } else if (slot_head_ >= kMaxPipelined) {
        // Drop the answered slots at the front now and then, so a steady pipeline stays bounded.
        slots_.erase(slots_.begin(), slots_.begin() + static_cast<std::ptrdiff_t>(slot_head_));
        slot_head_ = 0;
    }
    current_seq_ = head_seq_ + (slots_.size() - slot_head_);
    slots_.emplace_back();
    slots_.back().barrier = barrier;
    if (barrier) barrier_ = true;
}

Connection::Slot* Connection::slot_of(std::uint64_t seq) noexcept {
    if (seq < head_seq_) return nullptr;
    const std::size_t index = slot_head_ + static_cast<std::size_t>(seq - head_seq_);
    return index < slots_.size() ? &slots_[index] : nullptr;
}

void Connection::reply(Result<json::object> fields) { finish(current_seq_, std::move(fields)); }

void Connection::finish(std::uint64_t seq, Result<json::object> fields) {
    Slot* slot = closed_ ? nullptr : slot_of(seq);
    if (slot == nullptr || slot->ready) return;
    if (!fields.ok()) return fail(*slot, fields.error());
    std::string text = json::serialize(fields.value());
    // Drop the braces: the fields go into the reply object after "id" and "ok".
    const std::string_view inner = std::string_view(text).substr(1, text.size() - 2);
    append_reply_frame(slot->frame, slot->id_json, inner);
    complete(*slot);
}

void Connection::finish(std::uint64_t seq, Result<EncodedFields> fields) {
    Slot* slot = closed_ ? nullptr : slot_of(seq);
    if (slot == nullptr || slot->ready) return;
    if (!fields.ok()) return fail(*slot, fields.error());
    append_reply_frame(slot->frame, slot->id_json, fields->text);
    complete(*slot);
}

void Connection::fail(Slot& slot, const Error& error) {
    log_error(error);
    append_error_frame(slot.frame, slot.id_json, error);
    complete(slot);
}

void Connection::complete(Slot& slot) {
    slot.ready = true;
    if (slot.barrier) barrier_ = false;
    // Replies leave in request order: everything ready at the front goes now.
    while (slot_head_ < slots_.size() && slots_[slot_head_].ready) {
        enqueue(slots_[slot_head_].frame, false);
        if (closed_) return;  // dropped as a slow reader: the slots are gone
        std::string().swap(slots_[slot_head_].frame);
        ++slot_head_;
        ++head_seq_;
    }
    if (slots_empty()) {
        hold_pushes_ = false;
        if (!held_.empty()) {
            auto held = std::move(held_);
            held_.clear();
            for (auto& frame : held) {
                enqueue(frame, true);
                if (closed_) return;
            }
        }
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
            drop_slow_reader("outbound queue full");
            return;
        }
        pending_push_bytes_ += frame.size();
    }
    // Replies and pushes alike count against the process-wide budget.
    if (!share_.grow(frame.size())) {
        drop_slow_reader("outbound memory budget spent");
        return;
    }
    pending_.append(frame);
    schedule_write();
}

void Connection::schedule_write() {
    if (write_in_flight_ || write_scheduled_) return;
    // Not now but from a posted handler: whatever else this round of handlers queues (more
    // replies, more pushes) leaves in the same write.
    write_scheduled_ = true;
    asio::post(strand_, [self = shared_from_this()] {
        self->write_scheduled_ = false;
        if (!self->closed_ && !self->write_in_flight_ && !self->pending_.empty()) {
            self->start_write();
        }
    });
}

void Connection::start_write() {
    writing_.swap(pending_);
    pending_.clear();
    writing_push_bytes_ = pending_push_bytes_;
    pending_push_bytes_ = 0;
    write_in_flight_ = true;
    write_started_ = std::chrono::steady_clock::now();
    arm_stall_timer();
    auto on_done = asio::bind_executor(
        strand_, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
            self->on_written(ec);
        });
    if (tls_) {
        asio::async_write(tls_->stream, asio::buffer(writing_), std::move(on_done));
    } else {
        asio::async_write(socket_, asio::buffer(writing_), std::move(on_done));
    }
}

void Connection::on_written(const boost::system::error_code& ec) {
    write_in_flight_ = false;
    if (closed_) return;
    if (ec) {
        close(ec == asio::error::operation_aborted ? nullptr : "write failed");
        return;
    }
    share_.shrink(writing_.size());
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

void Connection::arm_stall_timer() {
    const auto timeout = core_.limits.write_stall_timeout;
    if (stall_armed_ || timeout.count() <= 0 || closed_) return;
    stall_armed_ = true;
    stall_timer_.expires_at(write_started_ + timeout);
    stall_timer_.async_wait(
        asio::bind_executor(strand_, [self = shared_from_this()](boost::system::error_code ec) {
            self->stall_armed_ = false;
            if (ec || self->closed_ || !self->write_in_flight_) return;
            const auto limit = self->core_.limits.write_stall_timeout;
            if (std::chrono::steady_clock::now() - self->write_started_ >= limit) {
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
                   .add("outbound_bytes", outbound_bytes())
                   .str());
    close(why);
}

// ---------------------------------------------------------------------------------------------
// Connection: sessions and pushes

std::shared_ptr<Sink> Connection::begin_login() {
    if (sink_) sink_->detach();
    sink_ = std::make_shared<ConnectionSink>(weak_from_this(), core_.limits.max_outbound_bytes);
    hold_pushes_ = true;
    return sink_;
}

void Connection::end_login(const Result<LoginResult>& result) {
    if (closed_ || draining_) {
        // The connection went away while the password was being checked.
        if (result.ok()) (void)core_.service.logout(result->session);
        return;
    }
    if (result.ok() && !sink_) {
        // The session ended (its account was deleted) before this reply: the held logged_out
        // event follows the reply, and the connection stays logged out.
        (void)core_.service.logout(result->session);
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

void Connection::post_sink_drain(std::shared_ptr<ConnectionSink> sink) {
    asio::post(strand_,
               [self = shared_from_this(), sink = std::move(sink)] { self->on_sink_drain(sink); });
}

void Connection::on_sink_drain(const std::shared_ptr<ConnectionSink>& sink) {
    const ConnectionSink::Batch batch = sink->take(push_batch_);
    if (closed_ || draining_ || sink_ != sink) {
        push_batch_.clear();
        return;
    }
    if (batch.overflow) {
        push_batch_.clear();
        drop_slow_reader("outbound queue full");
        return;
    }
    if (batch.ends_session) {
        // Another connection deleted the account; the core has already ended the session.
        sink_->detach();
        sink_.reset();
        session_.reset();
        arm_login_timer();
    }
    if (!push_batch_.empty()) {
        if (hold_pushes_) {
            held_.push_back(push_batch_);
        } else {
            enqueue(push_batch_, true);
        }
    }
    if (push_batch_.capacity() > kKeepWriteCapacity) {
        std::string().swap(push_batch_);
    } else {
        push_batch_.clear();
    }
}

// ---------------------------------------------------------------------------------------------
// Connection: TLS

void Connection::start_tls_handshake() {
    if (core_.tls_handshake_timeout.count() > 0) {
        // The login timer is free until the connection is served.
        login_timer_.expires_after(core_.tls_handshake_timeout);
        login_timer_.async_wait(
            asio::bind_executor(strand_, [self = shared_from_this()](boost::system::error_code ec) {
                if (ec || self->closed_ || self->tls_->established) return;
                self->close("tls handshake timeout");
            }));
    }
    tls_->stream.async_handshake(
        ssl::stream_base::server,
        asio::bind_executor(strand_, [self = shared_from_this()](boost::system::error_code ec) {
            self->on_tls_handshake(ec);
        }));
}

void Connection::on_tls_handshake(const boost::system::error_code& ec) {
    if (closed_) return;
    if (ec) {
        log::write(log::Level::info, kComponent, "tls handshake failed",
                   log::Fields()
                       .add("conn", id_)
                       .add("peer", peer_)
                       .add("error", '"' + ec.message() + '"')
                       .str());
        close(nullptr);
        return;
    }
    tls_->established = true;
    login_timer_.cancel();
    start();
}

void Connection::read_tls() {
    reading_ = true;
    tls_->stream.async_read_some(
        asio::buffer(tls_->buffer),
        asio::bind_executor(
            strand_, [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                self->on_tls_read(ec, n);
            }));
}

void Connection::on_tls_read(const boost::system::error_code& ec, std::size_t n) {
    reading_ = false;
    if (closed_ || lingering_) return;
    if (ec) {
        // A peer that closes without TLS's close_notify (stream_truncated) is done sending all
        // the same: frames are self-delimiting, so nothing it sent can be mistaken.
        if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
            read_stopped_ = true;
            pump();
        } else {
            close(ec == asio::error::operation_aborted ? nullptr : "read failed");
        }
        return;
    }
    on_bytes(std::string_view(tls_->buffer.data(), n));
    pump();
}

void Connection::linger_tls() {
    if (reading_) {
        close(nullptr);  // never two reads at once on one TLS stream
        return;
    }
    // Our close_notify is the TLS form of the half-close; OpenSSL discards what the peer still
    // sends until its own close_notify or EOF ends the shutdown, or the linger time runs out.
    linger_timer_.expires_after(kLingerTime);
    linger_timer_.async_wait(asio::bind_executor(
        strand_, [self = shared_from_this()](boost::system::error_code wait_ec) {
            if (!wait_ec) self->close(nullptr);
        }));
    tls_->stream.async_shutdown(asio::bind_executor(
        strand_, [self = shared_from_this()](boost::system::error_code) { self->close(nullptr); }));
}

}  // namespace chat::json_transport
