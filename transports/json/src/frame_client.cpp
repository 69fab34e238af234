// FrameClient: requests, replies and pushes of a client of the JSON frames (see
// frame_client.hpp).
#include "frame_client.hpp"

#include <cstddef>
#include <future>
#include <optional>

#include "chat/validation.hpp"

namespace chat::json_transport {

namespace asio = boost::asio;

namespace {

Error malformed_reply() { return make_error(Errc::internal, "malformed reply from server"); }

Result<void> no_fields(Result<json::object> reply) {
    if (!reply.ok()) return reply.error();
    return {};
}

Result<Message> decode_sent(Result<json::object> reply) {
    if (!reply.ok()) return reply.error();
    const auto* value = reply->if_contains("message");
    if (value == nullptr) return malformed_reply();
    auto message = decode_message(*value);
    if (!message) return malformed_reply();
    return std::move(*message);
}

}  // namespace

FrameClient::FrameClient(ClientConfig config, const char* callback_thread, bool text_only)
    : config_(std::move(config)),
      text_only_(text_only),
      delivery_(config_.auto_ack, callback_thread) {
    // One ack for a batch of handed-over pushes; its reply (or failure) ends the batch.
    delivery_.set_ack_sender([this](std::vector<MessageId> ids, std::function<void()> done) {
        submit(request("ack", ack_fields(ids, std::nullopt)),
               [done = std::move(done)](Result<json::object>) { done(); });
    });
}

Result<void> FrameClient::connect() {
    std::lock_guard lock(lifecycle_mutex_);
    if (connected_ || closed_) return make_error(Errc::internal, "connect() called twice");
    auto opened = open_connection();
    if (!opened.ok()) return opened.error();
    connected_ = true;
    pending_.open();
    work_.emplace(ioc_.get_executor());
    start_reading();
    io_thread_ = std::thread([this] { ioc_.run(); });
    return {};
}

void FrameClient::close() {
    {
        std::lock_guard lock(lifecycle_mutex_);
        if (closed_) return;
        closed_ = true;
        if (!connected_) return;
    }
    asio::post(ioc_, [this] { shut_connection(); });
    work_.reset();
    if (io_thread_.joinable()) io_thread_.join();
    // Requests still waiting can no longer be answered.
    pending_.fail_all(make_error(Errc::internal, "client closed"));
    // No handler after this returns (send_async completions still run).
    delivery_.close();
}

Result<HelloInfo> FrameClient::hello(int version) {
    auto reply = call(request("hello", {{"version", version}}));
    if (!reply.ok()) return reply.error();
    FieldReader in(*reply);
    HelloInfo info;
    auto v = in.optional_i64("version");
    auto server = in.optional_string("server");
    auto max_frame = in.optional_u64("max_frame");
    if (!in.ok() || !v || !server || !max_frame) return malformed_reply();
    info.version = static_cast<int>(*v);
    info.server = *server;
    info.max_frame = static_cast<std::size_t>(*max_frame);
    return info;
}

Result<void> FrameClient::create_account(std::string_view username, std::string_view password) {
    return no_fields(call(
        request("create_account", {{"username", text(username)}, {"password", text(password)}})));
}

Result<LoginResult> FrameClient::login(std::string_view username, std::string_view password) {
    auto reply =
        call(request("login", {{"username", text(username)}, {"password", text(password)}}));
    if (!reply.ok()) return reply.error();
    FieldReader in(*reply);
    LoginResult result;
    result.username = in.required_string("username");
    result.unread = in.required_u64("unread");
    if (!in.ok()) return malformed_reply();
    return result;
}

Result<void> FrameClient::logout() { return no_fields(call(request("logout", {}))); }

Result<Message> FrameClient::send(std::string_view to, std::string_view body) {
    return decode_sent(call(request("send", {{"to", text(to)}, {"body", text(body)}})));
}

void FrameClient::send_async(std::string_view to, std::string_view body,
                             std::function<void(Result<Message>)> done) {
    // The pipelined hot path: the frame is written straight out, no json::object first.
    std::string frame;
    frame.reserve(48 + to.size() + body.size());
    frame.append("{\"op\":\"send\",\"to\":");
    append_json_string(frame, text(to));
    frame.append(",\"body\":");
    append_json_string(frame, text(body));
    submit_encoded(std::move(frame),
                   [this, done = std::move(done)](Result<json::object> reply) mutable {
                       if (!done) return;
                       delivery_.post([done = std::move(done), reply = std::move(reply)]() mutable {
                           done(decode_sent(std::move(reply)));
                       });
                   });
}

Result<FetchResult> FrameClient::fetch(std::uint64_t max) {
    json::object fields;
    if (max != 0) fields.emplace("max", max);
    auto reply = call(request("fetch", std::move(fields)));
    if (!reply.ok()) return reply.error();
    FieldReader in(*reply);
    FetchResult result;
    result.remaining = in.required_u64("remaining");
    const auto* messages = in.optional_value("messages");
    if (!in.ok() || messages == nullptr || !messages->is_array()) return malformed_reply();
    for (const auto& value : messages->get_array()) {
        auto message = decode_message(value);
        if (!message) return malformed_reply();
        result.messages.push_back(std::move(*message));
    }
    return result;
}

Result<std::uint64_t> FrameClient::ack(const std::vector<MessageId>& ids,
                                       std::optional<MessageId> up_to) {
    auto reply = call(request("ack", ack_fields(ids, up_to)));
    if (!reply.ok()) return reply.error();
    FieldReader in(*reply);
    auto acked = in.required_u64("acked");
    if (!in.ok()) return malformed_reply();
    return acked;
}

Result<AccountPage> FrameClient::list_accounts(std::string_view pattern, std::uint64_t limit,
                                               std::string_view after) {
    json::object fields;
    if (!pattern.empty()) fields.emplace("pattern", text_value(pattern));
    if (limit != 0) fields.emplace("limit", limit);
    if (!after.empty()) fields.emplace("after", text_value(after));
    auto reply = call(request("list_accounts", std::move(fields)));
    if (!reply.ok()) return reply.error();
    FieldReader in(*reply);
    AccountPage page;
    auto accounts = in.optional_string_array("accounts");
    auto next = in.optional_string("next");
    if (!in.ok() || !accounts) return malformed_reply();
    page.accounts = std::move(*accounts);
    if (next) page.next = std::string(*next);
    return page;
}

Result<void> FrameClient::delete_account(std::string_view password) {
    return no_fields(call(request("delete_account", {{"password", text(password)}})));
}

std::string_view FrameClient::text(std::string_view field) const {
    // Empty breaks the rule of every field the core checks itself (username, password, to,
    // body), so the server answers with that field's code, in its own order of checks.
    if (text_only_ && !is_valid_utf8(field)) return {};
    return field;
}

json::value FrameClient::text_value(std::string_view field) const {
    // A field the server only reads as text (pattern, after): a number is the wrong type, a
    // bad_request as text that is not UTF-8 would be.
    if (text_only_ && !is_valid_utf8(field)) return 0;
    return json::value(field);
}

json::object FrameClient::request(std::string_view op, json::object fields) {
    json::object out;
    out.reserve(fields.size() + 2);
    out.emplace("op", op);
    for (auto& field : fields) out.emplace(field.key(), std::move(field.value()));
    return out;
}

json::object FrameClient::ack_fields(const std::vector<MessageId>& ids,
                                     std::optional<MessageId> up_to) {
    json::object fields;
    json::array array;
    array.reserve(ids.size());
    for (auto id : ids) array.emplace_back(id);
    // Naming nothing sends neither field: the server answers bad_request, as gRPC does.
    if (!ids.empty()) fields.emplace("ids", std::move(array));
    if (up_to) fields.emplace("up_to", *up_to);
    return fields;
}

// --- Requests (any thread) ---

// Queues `request` with a fresh id; `on_reply` runs on the I/O thread (or at once when the
// connection is gone). Returns the id, or 0 when not connected.
std::uint64_t FrameClient::submit(json::object request, ReplyHandler on_reply) {
    // Written field by field and left open: submit_encoded adds the id and closes it.
    std::string frame = "{";
    for (const auto& field : request) {
        if (frame.size() > 1) frame.push_back(',');
        append_json_string(frame, field.key());
        frame.push_back(':');
        frame.append(json::serialize(field.value()));
    }
    return submit_encoded(std::move(frame), std::move(on_reply));
}

// `open_frame`: see PendingRequests::submit. Returns the id, or 0 when refused.
std::uint64_t FrameClient::submit_encoded(std::string open_frame, ReplyHandler on_reply) {
    const auto submitted = pending_.submit(open_frame, std::move(on_reply));
    if (submitted.post_flush) asio::post(ioc_, [this] { flush_outbox(); });
    return submitted.id;
}

Result<json::object> FrameClient::call(json::object request) {
    auto promise = std::make_shared<std::promise<Result<json::object>>>();
    auto future = promise->get_future();
    const std::uint64_t id = submit(std::move(request), [promise](Result<json::object> reply) {
        promise->set_value(std::move(reply));
    });
    if (id == 0) return future.get();
    if (future.wait_for(config_.timeout) != std::future_status::ready) {
        pending_.forget(id);
        return make_error(Errc::internal, "timeout");
    }
    return future.get();
}

// --- I/O thread ---

void FrameClient::on_broken(const boost::system::error_code& ec) {
    shut_connection();
    bool closing = false;
    {
        std::lock_guard lock(lifecycle_mutex_);
        closing = closed_;
    }
    Error error =
        make_error(Errc::internal, closing ? "client closed" : "connection lost: " + ec.message());
    if (auto reason = pending_.closing_error(); !closing && reason) error = *reason;
    pending_.fail_all(error);
    if (!closing) delivery_.disconnected(error);
}

void FrameClient::on_frame(std::string_view frame) {
    boost::system::error_code ec;
    // An event (the server writes its "event" member first) is decoded and dropped within this
    // call, so its value lives in a block of this thread instead of a dozen heap allocations.
    // A reply outlives the call (its handler keeps the object), so it stays on the heap.
    constexpr std::size_t kScratchBytes = 8 * 1024;
    alignas(std::max_align_t) thread_local unsigned char scratch_block[kScratchBytes];
    std::optional<json::monotonic_resource> scratch;
    if (frame.starts_with(R"({"event":)")) {
        scratch.emplace(scratch_block, sizeof scratch_block);
        parser_.reset(&*scratch);
    } else {
        parser_.reset();
    }
    parser_.write(frame.data(), frame.size(), ec);
    if (ec) return;  // not a frame we can use; the server never sends these
    json::value value = parser_.release();
    auto* object = value.if_object();
    if (object == nullptr) return;
    if (const auto* event = object->if_contains("event")) {
        if (event->is_string()) on_event(event->get_string(), *object);
        return;
    }
    const auto* id_value = object->if_contains("id");
    auto id = id_value != nullptr ? to_u64(*id_value) : std::nullopt;
    if (!id) {
        // The server could not read the id of a request (frame_too_large) or answers none
        // (server_busy on a full server). Either is the reason for a disconnect that may
        // follow; and as replies come in request order, it answers our oldest request.
        if (const auto* error = object->if_contains("error")) {
            pending_.set_closing_error(decode_error(*error));
        }
    }
    ReplyHandler handler = pending_.take(id);
    if (!handler) return;  // timed out already, or nothing pending
    const auto* ok = object->if_contains("ok");
    if (ok != nullptr && ok->is_bool() && ok->get_bool()) {
        handler(std::move(*object));
    } else if (const auto* error = object->if_contains("error")) {
        handler(decode_error(*error));
    } else {
        handler(malformed_reply());
    }
}

void FrameClient::on_event(std::string_view event, const json::object& object) {
    if (event == "message") {
        const auto* value = object.if_contains("message");
        auto message = value != nullptr ? decode_message(*value) : std::nullopt;
        if (!message) return;
        delivery_.message(std::move(*message));
    } else if (event == "logged_out") {
        const auto* reason_value = object.if_contains("reason");
        std::optional<LogoutReason> reason;
        if (reason_value != nullptr && reason_value->is_string()) {
            reason = logout_reason_from_string(reason_value->get_string());
        }
        delivery_.logged_out(reason.value_or(LogoutReason::account_deleted));
    }
    // Unknown events are ignored: a newer server may send more kinds.
}

}  // namespace chat::json_transport
