// RequestPipeline: frames in, replies out in request order (see request_pipeline.hpp).
#include "request_pipeline.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <span>

#include "frame_connection.hpp"
#include "json_ops.hpp"

namespace chat::json_transport {

namespace {

// Requests read ahead that cannot be dispatched yet; reading pauses beyond either bound.
constexpr std::size_t kMaxBacklogFrames = 64;
// Sends of one connection with the core at once.
constexpr std::size_t kMaxPipelined = 64;

json::parse_options parse_options() {
    json::parse_options options;
    options.max_depth = 64;
    // UTF-8 is checked after parsing, so that broken text in a field the core validates (a
    // message body, say) gets the same domain error on every transport; see check_op().
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

// Names the op only when it is short plain ASCII: the message must stay valid UTF-8 and small.
std::string unknown_op_message(std::string_view op) {
    bool plain = !op.empty() && op.size() <= 32 && std::all_of(op.begin(), op.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.';
    });
    return plain ? "unknown op '" + std::string(op) + "'" : std::string("unknown op");
}

// The members of `fields` as `"key":value,...`, in order: the reply frame is written around
// them, so no object holding "id" and "ok" is ever built.
EncodedFields encode_fields(const json::object& fields) {
    EncodedFields out;
    for (const auto& field : fields) {
        if (!out.text.empty()) out.text.push_back(',');
        append_json_string(out.text, field.key());
        out.text.push_back(':');
        out.text.append(json::serialize(field.value()));
    }
    return out;
}

}  // namespace

RequestPipeline::RequestPipeline(FrameConnection& connection, const Limits& limits)
    : connection_(connection),
      limits_(limits),
      framer_(limits.max_frame),
      rate_(limits.rate_limit, limits.rate_burst) {}

// ---------------------------------------------------------------------------------------------
// Input

bool RequestPipeline::backlog_full() const noexcept {
    return backlog_.size() >= kMaxBacklogFrames || backlog_bytes_ > 2 * limits_.max_frame;
}

bool RequestPipeline::wants_input() const noexcept { return !input_ended_ && !backlog_full(); }

void RequestPipeline::on_bytes(std::string_view bytes) {
    if (connection_.closing()) return;
    // Frames that can go to the core at once are handled straight from the read buffer; the
    // rest wait in the backlog, copied, in order.
    const bool was_in_pump = in_pump_;
    in_pump_ = true;
    auto status = framer_.feed(bytes, [this](std::string_view frame) { accept_frame(frame); });
    in_pump_ = was_in_pump;
    if (status == LineFramer::Status::too_large) {
        refuse_input(
            make_error(Errc::frame_too_large,
                       "frame longer than " + std::to_string(limits_.max_frame) + " bytes"),
            "frame too large");
    }
}

void RequestPipeline::on_frame(std::string_view frame) {
    if (connection_.closing() || input_ended_ || LineFramer::is_blank(frame)) return;
    const bool was_in_pump = in_pump_;
    in_pump_ = true;
    accept_frame(frame);
    in_pump_ = was_in_pump;
}

void RequestPipeline::accept_frame(std::string_view frame) {
    if (connection_.closing()) return;
    if (backlog_.empty() && try_dispatch(frame)) return;
    backlog_bytes_ += frame.size();
    backlog_.push_back(Pending{std::string(frame)});
}

void RequestPipeline::refuse_input(Error error, const char* reason) {
    if (connection_.closing() || input_ended_) return;
    input_ended_ = true;
    backlog_.push_back(Pending{{}, std::move(error), reason});
}

void RequestPipeline::pump() {
    if (in_pump_) return;
    in_pump_ = true;
    while (!connection_.closing() && !backlog_.empty()) {
        Pending& next = backlog_.front();
        if (next.refusal) {
            if (!idle()) break;  // its error goes out after the replies before it
            const Error error = std::move(*next.refusal);
            const char* reason = next.reason;
            connection_.log_error(error);
            backlog_.pop_front();
            connection_.close_after(error_frame(nullptr, error), reason);
            break;
        }
        const bool dispatched = try_dispatch(next.frame);
        if (connection_.closing()) break;  // the backlog is gone with it
        if (!dispatched) break;
        backlog_bytes_ -= next.frame.size();
        backlog_.pop_front();
    }
    in_pump_ = false;
}

void RequestPipeline::drop_backlog() {
    backlog_.clear();
    backlog_bytes_ = 0;
}

void RequestPipeline::clear() {
    drop_backlog();
    slots_.clear();
    slot_head_ = 0;
}

// ---------------------------------------------------------------------------------------------
// Dispatching

bool RequestPipeline::try_dispatch(std::string_view frame) {
    if (barrier_ || slots_.size() - slot_head_ >= kMaxPipelined || connection_.outbound_full()) {
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
    if (!is_send && !idle()) return false;

    open_slot(!is_send);
    // From here on the request is answered exactly once, in its slot. Over the rate limit it is
    // refused as such whatever else is wrong with it (its id is echoed when usable).
    const bool allowed = rate_.take();
    const OpRow* row = nullptr;
    std::optional<Error> refusal = check_envelope(ec, object);
    if (!allowed) refusal = make_error(Errc::rate_limited, "too many requests");
    if (!refusal) refusal = check_op(request, op, row);
    if (refusal) {
        finish(current_seq_, Result<EncodedFields>(std::move(*refusal)));
        return true;
    }
    row->run(connection_, *object);
    return true;
}

std::optional<Error> RequestPipeline::check_envelope(const boost::system::error_code& parse_error,
                                                     const json::object* request) {
    if (parse_error) return make_error(Errc::bad_request, "invalid JSON: " + parse_error.message());
    if (request == nullptr) return make_error(Errc::bad_request, "a request must be a JSON object");
    if (const auto* id = request->if_contains("id")) {
        // A double id must be finite: 1e400 parses as infinity, which has no JSON spelling.
        const bool finite = !id->is_double() || std::isfinite(id->get_double());
        const bool usable = (id->is_number() && finite) || id->is_null() ||
                            (id->is_string() && is_valid_utf8_json(*id));
        if (!usable) return make_error(Errc::bad_request, "'id' must be a string or a number");
        std::string& out = slot_of(current_seq_)->id_json;
        if (id->is_int64() || id->is_uint64()) {
            // The usual id: written by hand, within the string's own buffer.
            char digits[24];
            const auto [end, error] =
                id->is_int64() ? std::to_chars(digits, digits + sizeof digits, id->get_int64())
                               : std::to_chars(digits, digits + sizeof digits, id->get_uint64());
            (void)error;
            out.assign(digits, end);
        } else {
            out = json::serialize(*id);
        }
    }
    return std::nullopt;
}

std::optional<Error> RequestPipeline::check_op(const json::value& request, const json::value* op,
                                               const OpRow*& row) const {
    if (op == nullptr || op->is_null()) return make_error(Errc::bad_request, "missing field 'op'");
    if (!op->is_string()) return make_error(Errc::bad_request, "'op' must be a string");
    row = find_op(op->get_string());
    if (!is_valid_utf8_json(request, row != nullptr ? std::span(row->domain_text)
                                                    : std::span<const std::string_view>())) {
        return make_error(Errc::bad_request, "invalid UTF-8 in the request");
    }
    if (row == nullptr) return make_error(Errc::unknown_op, unknown_op_message(op->get_string()));
    if (row->needs_session && !connection_.session()) {
        return make_error(Errc::not_logged_in, "log in first");
    }
    return std::nullopt;
}

void RequestPipeline::open_slot(bool barrier) {
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

RequestPipeline::Slot* RequestPipeline::slot_of(std::uint64_t seq) noexcept {
    if (seq < head_seq_) return nullptr;
    const std::size_t index = slot_head_ + static_cast<std::size_t>(seq - head_seq_);
    return index < slots_.size() ? &slots_[index] : nullptr;
}

// ---------------------------------------------------------------------------------------------
// Answering

void RequestPipeline::finish(std::uint64_t seq, Result<json::object> fields) {
    if (!fields.ok()) return finish(seq, Result<EncodedFields>(fields.error()));
    finish(seq, Result<EncodedFields>(encode_fields(fields.value())));
}

void RequestPipeline::finish(std::uint64_t seq, Result<EncodedFields> fields) {
    // After clear() no slot matches any sequence number.
    Slot* slot = slot_of(seq);
    if (slot == nullptr || slot->ready) return;
    if (fields.ok()) {
        append_reply_frame(slot->frame, slot->id_json, fields->text);
    } else {
        connection_.log_error(fields.error());
        append_error_frame(slot->frame, slot->id_json, fields.error());
    }
    complete(*slot);
}

void RequestPipeline::complete(Slot& slot) {
    slot.ready = true;
    if (slot.barrier) barrier_ = false;
    // Replies leave in request order: everything ready at the front goes now.
    while (slot_head_ < slots_.size() && slots_[slot_head_].ready) {
        if (!connection_.send_reply(slots_[slot_head_].frame)) return;  // the slots are gone
        std::string().swap(slots_[slot_head_].frame);
        ++slot_head_;
        ++head_seq_;
    }
    if (idle() && !connection_.release_held()) return;
    connection_.progress();  // does nothing while dispatching
}

}  // namespace chat::json_transport
